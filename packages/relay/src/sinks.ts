import type { Writable } from 'node:stream'
import type { RelayConfig } from './config.js'
import { KafkaSink } from './kafka-sink.js'
import type { Logger } from './log.js'
import type { RelayMetrics } from './metrics.js'
import type { Sink } from './sink.js'
import { StdoutSink } from './stdout-sink.js'

/**
 * The sink `config.sink` asks for: Kafka (produce errors counted in `metrics`) or one JSON line per fact on
 * `stdout`.
 *
 * @example
 * ```ts
 * const sink = createSink(config, { log, metrics })
 * await sink.start()
 * ```
 */
export function createSink(
  config: RelayConfig,
  deps: { log: Logger; metrics: RelayMetrics; stdout?: Writable },
): Sink {
  if (config.sink.kind === 'stdout') return new StdoutSink(deps.stdout ? { stream: deps.stdout } : {})
  return new KafkaSink(config.sink, {
    dlqTopic: config.dlqTopic,
    topicPartitions: config.topicPartitions,
    log: deps.log,
    onProduceError: (kind) => deps.metrics.produceError(kind),
  })
}
