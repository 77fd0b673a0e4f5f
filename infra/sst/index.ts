export { createDatabaseSecret } from './database-secret.js'
export {
  createRelayMonitoring,
  metricAlarmArgs,
  type RelayMonitoring,
  type RelayMonitoringInput,
} from './monitoring.js'
export { createMskServerless } from './msk.js'
export { type RelayServiceInput, relayServiceArgs, servicePermissions, withRelaySettings } from './service.js'
export { type DeploySettings, readDeploySettings } from './settings.js'
