export { ALARM_DEFAULTS, type AlarmKey, type AlarmSpec, cloudWatchAlarmProps, relayAlarms } from './alarms.js'
export {
  type ConsumerOptions,
  type ConsumerResource,
  type ConsumerSpec,
  type ConsumerStatement,
  consumerSpec,
  mappingSettings,
  type OnFailureOptions,
  type OnFailureSpec,
} from './consumer.js'
export { type ContainerSpec, healthCheckCommand, type ServiceSpec } from './container.js'
export { type DashboardRefs, dashboardBody, type Widget } from './dashboard.js'
export {
  kafkaEnvironment,
  type MskResource,
  type MskStatement,
  mskArn,
  mskResourceArns,
  mskTopicArn,
  topicPatterns,
} from './kafka.js'
export { AWS_METRICS, DEFAULT_METRICS_NAMESPACE, METRIC_DIMENSION, RELAY_METRICS } from './metrics.js'
export type { AlarmOptions, FargateCpu, KafkaTarget, RelayDeploymentOptions } from './options.js'
export {
  defaultIntervalMinutes,
  isNeonHost,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  MAX_INTERVAL_MINUTES,
  NEON_SUSPEND_MINUTES,
  type ScheduleOptions,
  type ScheduleSpec,
  scheduleSpec,
} from './schedule.js'
export { type RelaySpec, relaySpec } from './spec.js'
