import type { BaseOptions, Producer } from '@platformatic/kafka'
import type { KafkaCompression } from '../../config/config.js'
import type { KafkaModule } from './client-module.js'

/**
 * The relay's producer: idempotent, so the client sends with `acks: -1` and one request in flight per
 * connection; keys partitioned with murmur2 exactly as the Java client and kafkajs do (the client's default
 * hash differs, and would move keys to other partitions); topics never created by a write (the relay makes
 * them, with its partition count); the batches compressed with `compression`.
 *
 * Its own retries are short and few: the sink retries without end around them, reporting each failure.
 * Two retries, not fewer: the client makes 0 and 1 endless for an idempotent producer.
 *
 * @example
 * ```ts
 * const producer = createProducer(await loadKafkaClient(), options, { compression: 'none', produceTimeoutMs: 10_000 })
 * await producer.send({ messages })
 * ```
 */
export function createProducer(
  kafka: KafkaModule,
  client: BaseOptions,
  { compression, produceTimeoutMs }: { compression: KafkaCompression; produceTimeoutMs: number },
): Producer {
  return new kafka.Producer({
    ...client,
    idempotent: true,
    acks: -1,
    retries: 2,
    retryDelay: 100,
    // The broker's wait for the in-sync replicas.
    timeout: produceTimeoutMs,
    partitioner: kafka.compatibilityPartitioner,
    autocreateTopics: false,
    compression,
  })
}
