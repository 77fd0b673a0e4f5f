export { createDatabaseSecret, readDatabaseUrl } from './database-secret.js'
export {
  createRelayMonitoring,
  metricAlarmArgs,
  type RelayMonitoring,
  type RelayMonitoringInput,
} from './monitoring.js'
export { createMskServerless } from './msk.js'
export { createRelaySchedule, type RelaySchedule, type RelayScheduleInput } from './schedule.js'
export { type RelayServiceInput, relayServiceArgs, servicePermissions, withRelaySettings } from './service.js'
export { type DeploySettings, readDeploySettings, vpcNat } from './settings.js'
