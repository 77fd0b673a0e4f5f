import * as pulumi from '@pulumi/pulumi'
import { beforeAll, describe, expect, it } from 'vitest'
import { consumerSpec, relaySpec } from '../spec/index.js'
import {
  createDatabaseSecret,
  createMskServerless,
  createRelayMonitoring,
  createRelaySchedule,
  createVpcEndpoints,
  readDeploySettings,
  relayServiceArgs,
  subscribeConsumer,
} from '../sst/index.js'
import {
  EXPECTED_ALARMS,
  EXPECTED_SCHEDULE_ALARMS,
  EXPECTED_SCHEDULE_WIDGETS,
  EXPECTED_WIDGETS,
  type ExpectedAlarm,
  expectedConsumerStatements,
  MSK_ARN,
  MSK_TOPIC_ARN,
  OPTIONS,
  SCHEDULE_OPTIONS,
  unknownRelayMetrics,
} from './support.js'

interface Created {
  type: string
  name: string
  inputs: Record<string, unknown>
}
const created: Created[] = []
const ofType = (type: string) => created.filter((resource) => resource.type === type)

/** The value of an output, once Pulumi's mocks resolved it. */
const resolved = <T>(output: pulumi.Input<T>) =>
  new Promise<T>((resolve) => pulumi.output(output).apply((value) => resolve(value as T)))

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        created.push({ type, name, inputs })
        const arn = `arn:aws:mock:eu-west-1:123456789012:${type.split(':')[1]}/${name}`
        return {
          id: `${name}-id`,
          state: {
            ...inputs,
            arn,
            ...(type === 'aws:msk/serverlessCluster:ServerlessCluster'
              ? {
                  arn: MSK_ARN,
                  bootstrapBrokersSaslIam: 'boot-1.facts.kafka-serverless.eu-west-1.amazonaws.com:9098',
                }
              : {}),
          },
        }
      },
      call: ({ token, inputs }) =>
        token === 'aws:index/getRegion:getRegion'
          ? { ...inputs, region: 'eu-west-1', name: 'eu-west-1', id: 'eu-west-1' }
          : inputs,
    },
    'factlib',
    'test',
    false,
  )
})

describe('infra/sst under Pulumi mocks', () => {
  it('creates MSK Serverless with IAM auth in the given subnets', async () => {
    const cluster = createMskServerless('Kafka', {
      clusterName: 'facts',
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-1'],
    })
    expect(await resolved(cluster.bootstrapBrokersSaslIam)).toContain(':9098')
    expect(ofType('aws:msk/serverlessCluster:ServerlessCluster')).toEqual([
      expect.objectContaining({
        inputs: expect.objectContaining({
          clusterName: 'facts',
          clientAuthentication: { sasl: { iam: { enabled: true } } },
          vpcConfigs: [{ subnetIds: ['subnet-a', 'subnet-b'], securityGroupIds: ['sg-1'] }],
        }),
      }),
    ])
  })

  it('keeps the database URL in Secrets Manager', async () => {
    const arn = createDatabaseSecret('DatabaseUrlSecret', {
      secretName: 'factlib-relay-test/database-url',
      url: pulumi.secret('postgres://relay:pw@db.internal:5432/app'),
    })
    expect(await resolved(arn)).toMatch(/^arn:aws:mock:.*DatabaseUrlSecret$/)
    const [version] = ofType('aws:secretsmanager/secretVersion:SecretVersion')
    // Still a Pulumi secret: encrypted in the state, never shown in a preview.
    expect(version?.inputs.secretString).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: 'postgres://relay:pw@db.internal:5432/app',
    })
    expect(ofType('aws:secretsmanager/secret:Secret')[0]?.inputs).toMatchObject({
      name: 'factlib-relay-test/database-url',
    })
  })

  it('creates every alarm of the spec: metric, statistic, threshold, M of N, missing data, SNS actions', async () => {
    const spec = relaySpec(OPTIONS)
    const monitoring = createRelayMonitoring('Relay', {
      spec,
      clusterName: 'factlib-cluster',
      serviceName: 'Relay',
      alarmEmails: ['oncall@example.com'],
    })
    const topicArn = await resolved(monitoring.topic.arn)
    await Promise.all(Object.values(monitoring.alarms).map((alarm) => resolved(alarm.arn)))

    expect(ofType('aws:sns/topic:Topic')[0]?.inputs).toMatchObject({ name: 'factlib-relay-test-alarms' })
    expect(ofType('aws:sns/topicSubscription:TopicSubscription')[0]?.inputs).toMatchObject({
      protocol: 'email',
      endpoint: 'oncall@example.com',
      topic: topicArn,
    })
    const alarms = ofType('aws:cloudwatch/metricAlarm:MetricAlarm')
    expect(alarms).toHaveLength(Object.keys(EXPECTED_ALARMS).length)
    for (const expected of Object.values(EXPECTED_ALARMS)) {
      const alarm = alarms.find((candidate) => candidate.inputs.name === expected.name)
      expect(alarm?.inputs, expected.name).toEqual(alarmInputs(expected, topicArn))
    }
  })

  it('builds the dashboard from the spec, in the provider’s region, with every alarm’s ARN', async () => {
    const spec = relaySpec(OPTIONS)
    const { dashboard, alarms } = createRelayMonitoring('Board', {
      spec,
      clusterName: 'factlib-cluster',
      serviceName: 'Relay',
    })
    const body = JSON.parse(await resolved(dashboard.dashboardBody))
    expect(ofType('aws:cloudwatch/dashboard:Dashboard').at(-1)?.inputs.dashboardName).toBe(
      'factlib-relay-test',
    )
    expect(
      body.widgets.flatMap((widget: { properties: { title?: string } }) => widget.properties.title ?? []),
    ).toEqual(EXPECTED_WIDGETS)
    expect(unknownRelayMetrics(spec, body)).toEqual([])
    for (const widget of body.widgets.filter((candidate: { type: string }) => candidate.type === 'metric'))
      expect(widget.properties.region).toBe('eu-west-1')
    const arns = await Promise.all(spec.alarms.map((alarm) => resolved(alarms[alarm.key]!.arn)))
    expect(
      body.widgets.find((widget: { type: string }) => widget.type === 'alarm').properties.alarms,
    ).toEqual(arns)
  })
})

describe('schedule mode under Pulumi mocks', () => {
  const spec = relaySpec<pulumi.Input<string>>({
    ...SCHEDULE_OPTIONS,
    kafka: { kind: 'msk-iam', clusterArn: pulumi.output(MSK_ARN) },
  })
  const byName = (type: string, name: string) => {
    const found = ofType(type).filter((resource) => resource.name === name)
    expect(found, `${type} ${name}`).toHaveLength(1)
    return found[0]!.inputs
  }
  let relay: ReturnType<typeof createRelaySchedule>
  beforeAll(async () => {
    relay = createRelaySchedule('Drain', {
      spec,
      bundleDirectory: '/tmp/factlib-relay-lambda',
      subnetIds: ['subnet-private-a', 'subnet-private-b'],
      securityGroupIds: ['sg-1'],
      databaseUrl: pulumi.secret(
        'postgres://relay:pw@ep-cool-darkness-123456.eu-central-1.aws.neon.tech/app',
      ),
    })
    await resolved(relay.schedule.arn)
    await resolved(relay.invokeConfig.id)
    await new Promise<void>((done) => setTimeout(done, 50))
  })

  it('creates the function: Node 22, arm64, the bundle, reserved concurrency 1, the timeout, in the VPC', async () => {
    const fn = byName('aws:lambda/function:Function', 'DrainFunction')
    expect(fn).toMatchObject({
      name: 'factlib-relay-test',
      runtime: 'nodejs22.x',
      architectures: ['arm64'],
      handler: 'index.handler',
      memorySize: 512,
      timeout: 840,
      reservedConcurrentExecutions: 1,
      vpcConfig: { subnetIds: ['subnet-private-a', 'subnet-private-b'], securityGroupIds: ['sg-1'] },
      loggingConfig: { logFormat: 'Text', logGroup: '/factlib/factlib-relay-test' },
    })
    // A Pulumi FileArchive of the bundle's folder.
    expect(fn.code).toBeInstanceOf(pulumi.asset.FileArchive)
    expect(await (fn.code as { path: Promise<string> }).path).toBe('/tmp/factlib-relay-lambda')
    // The URL makes the whole environment a Pulumi secret: encrypted in the state, never shown in a preview.
    const environment = fn.environment as Record<string, unknown>
    expect(environment[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig)
    const { variables } = environment.value as { variables: Record<string, unknown> }
    expect(variables).toMatchObject({
      FACTLIB_SLOT: 'orders_slot',
      FACTLIB_METRICS: 'emf',
      KAFKA_CLUSTER_ARN: MSK_ARN,
      KAFKA_SASL: 'iam',
    })
    expect(variables).not.toHaveProperty('FACTLIB_HTTP_PORT')
    expect(variables.DATABASE_URL).toBe(
      'postgres://relay:pw@ep-cool-darkness-123456.eu-central-1.aws.neon.tech/app',
    )
    expect(byName('aws:cloudwatch/logGroup:LogGroup', 'DrainLogs')).toMatchObject({
      name: '/factlib/factlib-relay-test',
      retentionInDays: 30,
    })
  })

  it('turns Lambda’s async retries off and caps the event age', () => {
    expect(
      byName('aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig', 'DrainInvokeConfig'),
    ).toEqual({
      functionName: 'factlib-relay-test',
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 60,
    })
  })

  it('invokes it from an EventBridge Scheduler schedule every 15 minutes, on time, without retries', async () => {
    const functionArn = await resolved(relay.function.arn)
    const schedule = byName('aws:scheduler/schedule:Schedule', 'DrainSchedule')
    expect(schedule).toEqual({
      name: 'factlib-relay-test',
      scheduleExpression: 'rate(15 minutes)',
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: functionArn,
        roleArn: expect.stringContaining('DrainSchedulerRole'),
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
      },
    })
    const role = byName('aws:iam/role:Role', 'DrainSchedulerRole')
    expect(JSON.parse(role.assumeRolePolicy as string).Statement[0].Principal).toEqual({
      Service: 'scheduler.amazonaws.com',
    })
    expect(JSON.parse((role.inlinePolicies as { policy: string }[])[0]!.policy).Statement).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: functionArn },
    ])
  })

  it('gives the function’s role VPC access and the MSK statements', () => {
    const role = byName('aws:iam/role:Role', 'DrainFunctionRole')
    expect(role.managedPolicyArns).toEqual([
      'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
    ])
    const policy = JSON.parse(byName('aws:iam/rolePolicy:RolePolicy', 'DrainFunctionMsk').policy as string)
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Action: expect.arrayContaining(['kafka-cluster:Connect']),
        Resource: [MSK_ARN],
      }),
      expect.objectContaining({
        Action: expect.arrayContaining(['kafka-cluster:WriteData']),
        Resource: [`${MSK_TOPIC_ARN}/orders.*`, `${MSK_TOPIC_ARN}/billing.*`, `${MSK_TOPIC_ARN}/factlib.dlq`],
      }),
      expect.objectContaining({ Action: ['kafka:GetBootstrapBrokers'], Resource: [MSK_ARN] }),
    ])
  })

  it('creates the schedule mode’s alarms and dashboard on the function', async () => {
    const monitoring = createRelayMonitoring('Drained', { spec, functionName: relay.function.name })
    const topicArn = await resolved(monitoring.topic.arn)
    const body = JSON.parse(await resolved(monitoring.dashboard.dashboardBody))
    expect(
      body.widgets.flatMap((widget: { properties: { title?: string } }) => widget.properties.title ?? []),
    ).toEqual(EXPECTED_SCHEDULE_WIDGETS)
    expect(JSON.stringify(body)).toContain('"FunctionName","factlib-relay-test"')
    const alarms = ofType('aws:cloudwatch/metricAlarm:MetricAlarm').filter((alarm) =>
      alarm.name.startsWith('Drained'),
    )
    expect(alarms).toHaveLength(Object.keys(EXPECTED_SCHEDULE_ALARMS).length)
    for (const expected of Object.values(EXPECTED_SCHEDULE_ALARMS)) {
      const alarm = alarms.find((candidate) => candidate.inputs.name === expected.name)
      expect(alarm?.inputs, expected.name).toEqual(alarmInputs(expected, topicArn))
    }
  })

  it('refuses a spec in service mode', () => {
    expect(() =>
      createRelaySchedule('Wrong', {
        spec: relaySpec(OPTIONS),
        bundleDirectory: '/tmp/x',
        subnetIds: [],
        securityGroupIds: [],
        databaseUrl: 'postgres://x',
      }),
    ).toThrow(/service mode/)
  })
})

describe('the sst.aws.Service arguments', () => {
  const spec = relaySpec<pulumi.Input<string>>({
    ...OPTIONS,
    kafka: { kind: 'msk-iam', clusterArn: pulumi.output(MSK_ARN) },
  })
  const args = relayServiceArgs({
    cluster: 'the-cluster',
    spec,
    databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db',
  })

  it('run the Dockerfile’s image on arm64 at the spec’s size, with DATABASE_URL as an ECS secret', () => {
    expect(args).toMatchObject({
      cluster: 'the-cluster',
      architecture: 'arm64',
      cpu: '0.5 vCPU',
      memory: '1 GB',
      image: { context: '.', dockerfile: 'packages/relay/Dockerfile' },
      command: ['relay'],
      ssm: { DATABASE_URL: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' },
      logging: { name: '/factlib/factlib-relay-test' },
    })
    expect(args.environment).toMatchObject({
      FACTLIB_METRICS: 'emf',
      KAFKA_SASL: 'iam',
      FACTLIB_SLOT: 'orders_slot',
    })
    expect(args.environment).not.toHaveProperty('DATABASE_URL')
    expect(args).not.toHaveProperty('link')
    expect(args).not.toHaveProperty('loadBalancer')
  })

  it('check /healthz and keep a fixed task count with SST’s autoscaling off', () => {
    expect(args.health).toEqual({
      command: spec.container.healthCheck.command,
      interval: '30 seconds',
      timeout: '5 seconds',
      retries: 3,
      startPeriod: '60 seconds',
    })
    expect(args.health.command[3]).toContain('/healthz')
    expect(args.scaling).toEqual({ min: 1, max: 1, cpuUtilization: false, memoryUtilization: false })
  })

  it('grant MSK access on the cluster and the relay’s topics', async () => {
    const permissions = await Promise.all(
      args.permissions.map(async ({ actions, resources }) => ({
        actions,
        resources: await Promise.all(resources.map(resolved)),
      })),
    )
    expect(permissions).toEqual([
      {
        actions: [
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeCluster',
          'kafka-cluster:WriteDataIdempotently',
        ],
        resources: [MSK_ARN],
      },
      {
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:WriteData'],
        resources: [
          `${MSK_TOPIC_ARN}/orders.*`,
          `${MSK_TOPIC_ARN}/billing.*`,
          `${MSK_TOPIC_ARN}/factlib.dlq`,
        ],
      },
      { actions: ['kafka:GetBootstrapBrokers'], resources: [MSK_ARN] },
    ])
  })

  it('transform the ECS service to 0/100 with rollback, and the task to the stop timeout without a TTY', async () => {
    const service: Record<string, unknown> = { deploymentCircuitBreaker: { enable: false, rollback: false } }
    args.transform.service(service as never)
    expect(service).toEqual({
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      deploymentCircuitBreaker: { enable: true, rollback: true },
    })
    const task = {
      containerDefinitions: pulumi.output(
        JSON.stringify([{ name: 'Relay', pseudoTerminal: true, image: 'x' }]),
      ),
    }
    args.transform.taskDefinition(task as never)
    expect(JSON.parse(await resolved(task.containerDefinitions))).toEqual([
      { name: 'Relay', image: 'x', pseudoTerminal: false, stopTimeout: 35 },
    ])
    expect(args.transform.logGroup).toEqual({ retentionInDays: 30 })

    const standby = relayServiceArgs({
      cluster: 'c',
      spec: relaySpec({ ...OPTIONS, standby: true }),
      databaseSecretArn: 'arn',
    })
    const standbyService: Record<string, unknown> = {}
    standby.transform.service(standbyService as never)
    expect(standbyService).toMatchObject({
      deploymentMinimumHealthyPercent: 50,
      deploymentMaximumPercent: 100,
    })
    expect(standby.scaling).toMatchObject({ min: 2, max: 2 })
  })
})

describe('a consumer under Pulumi mocks', () => {
  it('maps the topic to the function in provisioned mode, with the retry settings and a failure queue', async () => {
    const spec = consumerSpec(relaySpec(OPTIONS), { name: 'orders-projection', topic: 'orders.Order' })
    const consumer = subscribeConsumer('Projection', {
      spec,
      functionName: 'projection-fn',
      roleName: 'projection-role',
    })
    const queueArn = await resolved(consumer.failureQueue!.arn)
    await resolved(consumer.eventSourceMapping.id)
    expect(ofType('aws:sqs/queue:Queue').at(-1)?.inputs).toEqual({
      name: 'orders-projection-failed',
      messageRetentionSeconds: 1_209_600,
    })
    expect(ofType('aws:lambda/eventSourceMapping:EventSourceMapping').at(-1)?.inputs).toEqual({
      functionName: 'projection-fn',
      eventSourceArn: MSK_ARN,
      topics: ['orders.Order'],
      amazonManagedKafkaEventSourceConfig: { consumerGroupId: 'orders-projection' },
      startingPosition: 'TRIM_HORIZON',
      batchSize: 100,
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: false,
      functionResponseTypes: ['ReportBatchItemFailures'],
      provisionedPollerConfig: { minimumPollers: 1, maximumPollers: 2 },
      destinationConfig: { onFailure: { destinationArn: queueArn } },
    })
  })

  it('gives the function’s role the cluster, topic, group, network and queue statements', async () => {
    const spec = consumerSpec(relaySpec(OPTIONS), { name: 'orders-projection', topic: 'orders.Order' })
    const consumer = subscribeConsumer('Policy', { spec, functionName: 'fn', roleName: 'projection-role' })
    const queueArn = await resolved(consumer.failureQueue!.arn)
    const policy = JSON.parse(await resolved(consumer.policy.policy as pulumi.Input<string>))
    expect(ofType('aws:iam/rolePolicy:RolePolicy').at(-1)?.inputs.role).toBe('projection-role')
    expect(
      policy.Statement.map((statement: { Effect: string; Action: string[]; Resource: string[] }) => ({
        effect: statement.Effect,
        actions: statement.Action,
        resources: statement.Resource,
      })),
    ).toEqual(expectedConsumerStatements(queueArn).map((statement) => ({ effect: 'Allow', ...statement })))
  })

  it('takes a Kafka topic as the failure destination, with no queue', async () => {
    const spec = consumerSpec(relaySpec(OPTIONS), {
      name: 'orders-audit',
      topic: 'orders.Order',
      onFailure: { kafka: 'factlib.dlq' },
    })
    const consumer = subscribeConsumer('Audit', { spec, functionName: 'audit-fn', roleName: 'audit-role' })
    expect(consumer.failureQueue).toBeUndefined()
    await resolved(consumer.eventSourceMapping.id)
    expect(ofType('aws:lambda/eventSourceMapping:EventSourceMapping').at(-1)?.inputs).toMatchObject({
      destinationConfig: { onFailure: { destinationArn: 'kafka://factlib.dlq' } },
    })
  })

  it('creates interface endpoints with private DNS for the services a consumer needs', async () => {
    const endpoints = createVpcEndpoints('Endpoints', {
      vpcId: 'vpc-1',
      services: ['lambda', 'sts', 'sqs'],
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-1'],
    })
    await Promise.all(endpoints.map((endpoint) => resolved(endpoint.id)))
    expect(ofType('aws:ec2/vpcEndpoint:VpcEndpoint').map((endpoint) => endpoint.inputs)).toEqual(
      ['lambda', 'sts', 'sqs'].map((service) => ({
        vpcId: 'vpc-1',
        serviceName: `com.amazonaws.eu-west-1.${service}`,
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: ['subnet-a', 'subnet-b'],
        securityGroupIds: ['sg-1'],
      })),
    )
  })
})

describe('deploy settings', () => {
  it('are read from FACTLIB_DEPLOY_* and an invalid one names its variable', () => {
    expect(readDeploySettings({})).toEqual({
      slot: undefined,
      sources: undefined,
      mskClusterArn: undefined,
      databaseSecretArn: undefined,
      rdsInstance: undefined,
      alarmEmails: [],
      standby: false,
      vpc: undefined,
      mode: 'service',
      scheduleMinutes: undefined,
      databaseHost: undefined,
      nat: undefined,
      lambdaBundle: undefined,
    })
    expect(
      readDeploySettings({
        FACTLIB_DEPLOY_SOURCES: 'orders, billing',
        FACTLIB_DEPLOY_MSK_CLUSTER_ARN: MSK_ARN,
        FACTLIB_DEPLOY_STANDBY: 'true',
        FACTLIB_DEPLOY_VPC_ID: 'vpc-1',
        FACTLIB_DEPLOY_SUBNET_IDS: 'subnet-a,subnet-b',
        FACTLIB_DEPLOY_SECURITY_GROUP_IDS: 'sg-1',
      }),
    ).toMatchObject({
      sources: ['orders', 'billing'],
      mskClusterArn: MSK_ARN,
      standby: true,
      vpc: { id: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'], securityGroupIds: ['sg-1'] },
    })
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_MSK_CLUSTER_ARN: 'facts' })).toThrow(
      /FACTLIB_DEPLOY_MSK_CLUSTER_ARN/,
    )
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_STANDBY: 'yes' })).toThrow(/FACTLIB_DEPLOY_STANDBY/)
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_VPC_ID: 'vpc-1' })).toThrow(/FACTLIB_DEPLOY_SUBNET_IDS/)
  })
})

/** The inputs the Pulumi front-end gives an alarm of the spec: every field, as the spec has it. */
function alarmInputs(expected: ExpectedAlarm, topicArn: unknown) {
  return {
    name: expected.name,
    alarmDescription: expect.stringContaining('Runbook: '),
    namespace: expected.namespace,
    metricName: expected.metricName,
    dimensions: expected.dimensions,
    statistic: expected.statistic,
    period: expected.periodSeconds,
    threshold: expected.threshold,
    evaluationPeriods: expected.evaluationPeriods,
    datapointsToAlarm: expected.datapointsToAlarm,
    comparisonOperator: expected.comparisonOperator,
    treatMissingData: expected.treatMissingData,
    alarmActions: [topicArn],
    okActions: [topicArn],
  }
}
