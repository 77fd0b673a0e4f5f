// `npx aws-cdk@2 deploy` from this folder (cdk.json runs this file): the example stack with the relay.
import { App } from 'aws-cdk-lib'
import { ExampleStack } from './stack.js'

const app = new App()
const databaseSecretName = app.node.tryGetContext('databaseSecretName') ?? 'factlib/database-url'
new ExampleStack(app, 'Factlib', {
  databaseSecretName,
  databaseInstance: app.node.tryGetContext('databaseInstance'),
  alarmEmail: app.node.tryGetContext('alarmEmail'),
  mode: app.node.tryGetContext('mode'),
  databaseHost: app.node.tryGetContext('databaseHost'),
  scheduleMinutes: app.node.tryGetContext('scheduleMinutes')
    ? Number(app.node.tryGetContext('scheduleMinutes'))
    : undefined,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
})
app.synth()
