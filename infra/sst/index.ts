export { type Consumer, type ConsumerInput, createVpcEndpoints, subscribeConsumer } from './consumer.js'
export { createDatabaseSecret, readDatabaseUrl } from './database-secret.js'
export {
  createRelayMonitoring,
  metricAlarmArgs,
  type RelayMonitoring,
  type RelayMonitoringInput,
} from './monitoring.js'
export { createMskServerless } from './msk.js'
export { createRelaySchedule, type RelaySchedule, type RelayScheduleInput } from './schedule.js'
export {
  mskArnInputs,
  type RelayServiceInput,
  relayServiceArgs,
  servicePermissions,
  withRelaySettings,
} from './service.js'
export { type DeploySettings, readDeploySettings, vpcEndpoints, vpcNat } from './settings.js'
