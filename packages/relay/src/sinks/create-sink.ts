import type { Writable } from 'node:stream'
import { FactlibError } from '@factlib/emit'
import type { RelayConfig } from '../config/config.js'
import type { Logger } from '../observability/log.js'
import type { RelayMetrics } from '../observability/metrics.js'
import { KafkaSink } from './kafka/kafka-sink.js'
import type { Sink } from './sink.js'
import { StdoutSink } from './stdout.js'

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
  if (config.sink.kind === 'custom')
    throw new FactlibError(
      'CUSTOM_SINK',
      'FACTLIB_SINK=custom is for programs that pass their own sink to startRelay; ' +
        'the factlib command has none: set FACTLIB_SINK to kafka or stdout',
    )
  return new KafkaSink(config.sink, {
    dlqTopic: config.dlqTopic,
    topicPartitions: config.topicPartitions,
    log: deps.log,
    onProduceError: (kind) => deps.metrics.produceError(kind),
  })
}
