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
} from './config.js'
export { acknowledgeArgument, Confirmations } from './confirm.js'
export { jsonLogger, type Logger, type LogLevel, silentLogger } from './log.js'
export { formatLsn, type Lsn, parseLsn } from './lsn.js'
export { DEFAULT_METRICS_NAMESPACE, METRIC_DIMENSION, METRICS, type MetricKey } from './metric-names.js'
export { RelayMetrics } from './metrics.js'
export { type CheckResult, checkDatabase, detectProvider, type Provider } from './prerequisites.js'
export { type Relay, type RelayOptions, startRelay } from './relay.js'
export type { Sink, SinkReadiness, SinkRecord } from './sink.js'
export { ensureSlot, readSlot, type SlotState, setupSql } from './slot.js'
