// @factlib/relay: stream a PostgreSQL logical replication slot to Kafka (or any sink), confirming each WAL
// position only after the sink acknowledged everything before it.

export { FactlibError } from '@factlib/emit'
export {
  CONFIG_VARIABLES,
  ConfigError,
  type ConfigVariable,
  flagName,
  type KafkaConfig,
  parseConfig,
  type RelayConfig,
  redactUrl,
  type SinkConfig,
} from './config/config.js'
// Logs, metrics, WAL positions and errors.
export { jsonLogger, type Logger, type LogLevel, silentLogger } from './observability/log.js'
export {
  DEFAULT_METRICS_NAMESPACE,
  METRIC_DIMENSION,
  METRICS,
  type MetricKey,
} from './observability/metric-names.js'
export { RelayMetrics } from './observability/metrics.js'
export type { DeadLetterReason } from './pipeline/record.js'
// Run a relay.
export {
  type DrainOptions,
  type DrainReason,
  type DrainSummary,
  type Relay,
  type RelayOptions,
  type RelayStatus,
  startRelay,
} from './relay/start-relay.js'
// Where facts go: Kafka, stdout, or a sink of your own.
export { createSink } from './sinks/create-sink.js'
export {
  ALL_DELIVERED,
  type SendResult,
  type Sink,
  type SinkReadiness,
  type SinkRecord,
} from './sinks/sink.js'
export { type Promotion, SlotMissingError } from './wal/failover.js'
export { formatLsn, type Lsn, parseLsn } from './wal/lsn.js'

// What `factlib setup` runs, for teams that apply SQL through their own migrations.
export { detectProvider, type Provider } from './wal/prerequisites.js'
export { setupSql } from './wal/slot.js'
