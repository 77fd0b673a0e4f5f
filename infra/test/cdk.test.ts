import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ExampleStack } from '../cdk/example/stack.js'
import { FactlibRelay } from '../cdk/index.js'
import {
  EXPECTED_ALARMS,
  EXPECTED_SCHEDULE_ALARMS,
  EXPECTED_SCHEDULE_WIDGETS,
  EXPECTED_WIDGETS,
  type ExpectedAlarm,
  NEON_HOST,
  OPTIONS,
  unknownRelayMetrics,
  workspaceManifests,
} from './support.js'

// One synthesis of the example app for every assertion: synthesis is the slow part.
let outdir: string
let stack: ExampleStack
let template: Template
let assetDirectory: string

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'factlib-cdk-'))
  const app = new App({ outdir })
  stack = new ExampleStack(app, 'Factlib', {
    databaseSecretName: 'factlib/database-url',
    databaseInstance: OPTIONS.database.instanceIdentifier,
    env: { account: '123456789012', region: 'eu-west-1' },
  })
  template = Template.fromStack(stack)
  app.synth()
  const manifest = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.assets.json`), 'utf8')) as {
    dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }>
  }
  const images = Object.values(manifest.dockerImages).map((image) => image.source)
  expect(images).toEqual([
    expect.objectContaining({ dockerFile: 'packages/relay/Dockerfile', platform: 'linux/arm64' }),
  ])
  assetDirectory = join(outdir, images[0]!.directory)
})
afterAll(() => rmSync(outdir, { recursive: true, force: true }))

/** The example's relay options differ from OPTIONS only in the name and the MSK ARN (a token). */
const expectedAlarmName = (name: string) => name.replace('factlib-relay-test', 'factlib-relay')

describe('FactlibRelay on the CDK', () => {
  it('runs one Fargate task without a load balancer, deploying at 0/100 with rollback', () => {
    template.resourceCountIs('AWS::ECS::Service', 1)
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0)
    template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 1,
      LaunchType: 'FARGATE',
      DeploymentConfiguration: {
        MinimumHealthyPercent: 0,
        MaximumPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
      LoadBalancers: Match.absent(),
    })
  })

  it('defines the container: arm64, size, command, health check on /healthz, stop timeout, init process', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '512',
      Memory: '1024',
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'relay',
          Command: ['relay'],
          HealthCheck: {
            Command: ['CMD', 'node', '-e', Match.stringLikeRegexp('http://127\\.0\\.0\\.1:8080/healthz')],
            Interval: 30,
            Timeout: 5,
            Retries: 3,
            StartPeriod: 60,
          },
          StopTimeout: 35,
          LinuxParameters: { InitProcessEnabled: true },
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          PortMappings: Match.absent(),
        }),
      ],
    })
  })

  it('passes the relay’s settings as environment and DATABASE_URL only as a secret the execution role may read', () => {
    const [definition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties
      .ContainerDefinitions as { Environment: { Name: string; Value: unknown }[]; Secrets: unknown[] }[]
    const environment = Object.fromEntries(definition!.Environment.map(({ Name, Value }) => [Name, Value]))
    expect(environment).toMatchObject({
      FACTLIB_SINK: 'kafka',
      KAFKA_CLUSTER_ARN: { 'Fn::GetAtt': ['Kafka', 'Arn'] },
      KAFKA_SASL: 'iam',
      KAFKA_TLS: 'true',
      FACTLIB_METRICS: 'emf',
      FACTLIB_METRICS_NAMESPACE: 'Factlib',
      FACTLIB_HTTP_PORT: '8080',
      FACTLIB_SHUTDOWN_TIMEOUT: '25',
    })
    expect(environment).not.toHaveProperty('DATABASE_URL')
    expect(definition!.Secrets).toEqual([
      { Name: 'DATABASE_URL', ValueFrom: expect.objectContaining({ 'Fn::Join': expect.any(Array) }) },
    ])
    expect(JSON.stringify(definition!.Secrets)).toContain(':secret:factlib/database-url')
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RelayTaskExecutionRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
          }),
        ]),
      },
    })
  })

  it('grants the task role the MSK actions on the cluster and on the relay’s topics', () => {
    const clusterArn = { 'Fn::GetAtt': ['Kafka', 'Arn'] }
    const topic = (pattern: string) => ({
      'Fn::Join': [
        '',
        [
          { 'Fn::Select': [0, { 'Fn::Split': [':cluster/', clusterArn] }] },
          ':topic/',
          { 'Fn::Select': [1, { 'Fn::Split': [':cluster/', clusterArn] }] },
          `/${pattern}`,
        ],
      ],
    })
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RelayTaskTaskRole') }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'kafka-cluster:Connect',
              'kafka-cluster:DescribeCluster',
              'kafka-cluster:WriteDataIdempotently',
            ],
            Resource: clusterArn,
          },
          {
            Effect: 'Allow',
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:WriteData'],
            Resource: [topic('*.*'), topic('factlib.dlq')],
          },
          { Effect: 'Allow', Action: 'kafka:GetBootstrapBrokers', Resource: clusterArn },
        ],
      },
    })
    template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
    })
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 9098,
      ToPort: 9098,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('KafkaSecurityGroup'), 'GroupId'] },
    })
    // A consumer's event source mapping polls with the cluster's own security group.
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 9098,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('KafkaSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('KafkaSecurityGroup'), 'GroupId'] },
    })
  })

  it('keeps logs in its own log group for 30 days', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/factlib/factlib-relay',
      RetentionInDays: 30,
    })
  })

  it('creates every alarm of the spec: metric, statistic, threshold, M of N, missing data, SNS actions', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(EXPECTED_ALARMS).length)
    const topic = { Ref: Match.stringLikeRegexp('RelayAlarmTopic') }
    for (const expected of Object.values(EXPECTED_ALARMS))
      template.hasResourceProperties('AWS::CloudWatch::Alarm', cfnAlarm(expected, topic))
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'factlib-relay-alarms' })
  })

  it('builds the dashboard from the spec: its widgets, the service’s names and every alarm’s ARN', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))
    expect(dashboard!.Properties.DashboardName).toBe('factlib-relay')
    const body = JSON.parse(flattenJoin(dashboard!.Properties.DashboardBody))
    expect(
      body.widgets.flatMap((widget: { properties: { title?: string } }) => widget.properties.title ?? []),
    ).toEqual(EXPECTED_WIDGETS)
    expect(unknownRelayMetrics(stack.relay.spec, body)).toEqual([])
    const metricWidgets = body.widgets.filter((widget: { type: string }) => widget.type === 'metric')
    for (const widget of metricWidgets) expect(widget.properties.region).toBe('eu-west-1')
    const cpu = metricWidgets.find((widget: { properties: { title: string } }) =>
      widget.properties.title.startsWith('CPU'),
    )
    expect(cpu.properties.metrics[0].slice(0, 6)).toEqual([
      'AWS/ECS',
      'CPUUtilization',
      'ClusterName',
      expect.stringMatching(/^<Ref:Cluster[0-9A-F]{8}>$/),
      'ServiceName',
      expect.stringMatching(/^<GetAtt:RelayService[0-9A-F]{8}\.Name>$/),
    ])
    const alarms = body.widgets.find((widget: { type: string }) => widget.type === 'alarm')
    expect(alarms.properties.alarms).toEqual(
      Object.keys(EXPECTED_ALARMS).map((key) =>
        expect.stringMatching(new RegExp(`^<GetAtt:Relay${key}Alarm.*\\.Arn>$`)),
      ),
    )
  })

  it('stages the image from the repository root with only what the Docker build needs', () => {
    for (const file of [
      'packages/relay/Dockerfile',
      'packages/relay/scripts/assemble-image.mjs',
      'packages/relay/src/cli/main.ts',
      'packages/emit/src/index.ts',
      'package-lock.json',
      // npm resolves the lock against every workspace's manifest.
      ...workspaceManifests(),
    ])
      expect(existsSync(join(assetDirectory, file)), file).toBe(true)
    for (const file of ['node_modules', 'packages/relay/dist', 'infra/spec', '.sst', '.git', 'test'])
      expect(existsSync(join(assetDirectory, file)), file).toBe(false)
  })

  it('runs a standby of two at 50/100 and grants nothing for plain brokers', () => {
    const app = new App()
    const other = new Stack(app, 'Other', { env: { account: '123456789012', region: 'eu-west-1' } })
    const vpc = new ec2.Vpc(other, 'Vpc')
    new FactlibRelay(other, 'Relay', {
      vpc,
      cluster: new ecs.Cluster(other, 'Cluster', { vpc }),
      databaseSecret: secretsmanager.Secret.fromSecretNameV2(other, 'Secret', 'db-url'),
      databaseSecretField: 'url',
      kafka: { kind: 'brokers', brokers: 'kafka-1.internal:9092' },
      options: { standby: true },
      image: ecs.ContainerImage.fromRegistry('factlib/relay:test'),
    })
    const standby = Template.fromStack(other)
    standby.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 2,
      DeploymentConfiguration: Match.objectLike({ MinimumHealthyPercent: 50, MaximumPercent: 100 }),
    })
    expect(JSON.stringify(standby.findResources('AWS::IAM::Policy'))).not.toContain('kafka')
    expect(JSON.stringify(standby.findResources('AWS::ECS::TaskDefinition'))).toContain(':db-url:url::')
  })
})

/** An oracle alarm as the example's CloudFormation alarm: its names are `factlib-relay` and slot `factlib`. */
function cfnAlarm(expected: ExpectedAlarm, topic: unknown) {
  return {
    AlarmName: expectedAlarmName(expected.name),
    AlarmDescription: Match.stringLikeRegexp('Runbook: '),
    Namespace: expected.namespace,
    MetricName: expected.metricName,
    Dimensions: Object.entries(expected.dimensions).map(([Name, Value]) => ({
      Name,
      Value: Name === 'Slot' ? 'factlib' : expectedAlarmName(Value),
    })),
    Statistic: expected.statistic,
    Period: expected.periodSeconds,
    Threshold: expected.threshold,
    EvaluationPeriods: expected.evaluationPeriods,
    DatapointsToAlarm: expected.datapointsToAlarm,
    ComparisonOperator: expected.comparisonOperator,
    TreatMissingData: expected.treatMissingData,
    AlarmActions: [topic],
    OKActions: [topic],
  }
}

/** A CloudFormation `Fn::Join` of strings, refs and attributes as one string, with readable placeholders. */
function flattenJoin(value: unknown): string {
  if (typeof value === 'string') return value
  const object = value as Record<string, unknown>
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]]
    return parts.map(flattenJoin).join(separator)
  }
  if ('Ref' in object) return `<Ref:${object.Ref}>`
  if ('Fn::GetAtt' in object) return `<GetAtt:${(object['Fn::GetAtt'] as string[]).join('.')}>`
  throw new Error(`unexpected ${JSON.stringify(value)}`)
}

describe('FactlibRelay in schedule mode on the CDK', () => {
  // The example app with mode=schedule on Neon, synthesized once; the function's code is the real bundle of
  // @factlib/relay/lambda, built by esbuild on this machine at synth time.
  let scheduled: Template
  let bundleDirectory: string
  let scheduleOutdir: string
  beforeAll(() => {
    scheduleOutdir = mkdtempSync(join(tmpdir(), 'factlib-cdk-schedule-'))
    const app = new App({ outdir: scheduleOutdir })
    const example = new ExampleStack(app, 'Factlib', {
      databaseSecretName: 'factlib/database-url',
      mode: 'schedule',
      databaseHost: NEON_HOST,
      env: { account: '123456789012', region: 'eu-west-1' },
    })
    scheduled = Template.fromStack(example)
    app.synth()
    const manifest = JSON.parse(
      readFileSync(join(scheduleOutdir, `${example.artifactId}.assets.json`), 'utf8'),
    ) as { files: Record<string, { source: { path: string; packaging: string } }> }
    const zips = Object.values(manifest.files).filter((file) => file.source.packaging === 'zip')
    expect(zips).toHaveLength(1)
    bundleDirectory = join(scheduleOutdir, zips[0]!.source.path)
  }, 120_000)
  afterAll(() => rmSync(scheduleOutdir, { recursive: true, force: true }))

  it('runs the relay’s bundle on Node 22, arm64, reserved concurrency 1, timeout below the interval, in the VPC’s private subnets', () => {
    scheduled.resourceCountIs('AWS::ECS::Service', 0)
    scheduled.resourceCountIs('AWS::ECS::Cluster', 0)
    scheduled.resourceCountIs('AWS::Lambda::Function', 1)
    scheduled.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'factlib-relay',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 840,
      ReservedConcurrentExecutions: 1,
      VpcConfig: {
        SubnetIds: [
          { Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') },
          { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') },
        ],
        SecurityGroupIds: [
          { 'Fn::GetAtt': [Match.stringLikeRegexp('RelayFunctionSecurityGroup'), 'GroupId'] },
        ],
      },
      LoggingConfig: { LogFormat: 'Text', LogGroup: { Ref: Match.stringLikeRegexp('RelayLogs') } },
    })
    const [fn] = Object.values(scheduled.findResources('AWS::Lambda::Function'))
    const variables = fn!.Properties.Environment.Variables as Record<string, unknown>
    expect(variables).toMatchObject({ FACTLIB_METRICS: 'emf', FACTLIB_SINK: 'kafka', KAFKA_SASL: 'iam' })
    expect(variables).not.toHaveProperty('FACTLIB_HTTP_PORT')
    // A dynamic reference CloudFormation resolves at deploy time: the URL is not in the template.
    expect(JSON.stringify(variables.DATABASE_URL)).toMatch(
      /\{\{resolve:secretsmanager:.*factlib\/database-url.*SecretString/,
    )
  })

  it('turns Lambda’s async retries off and caps the event age', () => {
    scheduled.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('RelayFunction') },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    })
  })

  it('invokes it from an EventBridge Scheduler schedule every 15 minutes (Neon’s default), on time, without retries', () => {
    scheduled.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'factlib-relay',
      ScheduleExpression: 'rate(15 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RelayFunction'), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RelaySchedulerRole'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    })
    scheduled.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })],
      }),
    })
    scheduled.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RelaySchedulerRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]),
      },
    })
  })

  it('reaches a database outside the VPC through the VPC’s NAT gateway, and MSK with the function’s role', () => {
    scheduled.resourceCountIs('AWS::EC2::NatGateway', 1)
    scheduled.hasResourceProperties('AWS::EC2::Route', {
      DestinationCidrBlock: '0.0.0.0/0',
      NatGatewayId: { Ref: Match.stringLikeRegexp('VpcPublicSubnet1NATGateway') },
    })
    scheduled.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RelayFunctionServiceRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['kafka-cluster:Connect']) }),
          Match.objectLike({ Action: Match.arrayWith(['kafka-cluster:WriteData']) }),
        ]),
      },
    })
    scheduled.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 9098,
      SourceSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('RelayFunctionSecurityGroup'), 'GroupId'],
      },
    })
  })

  it('creates the schedule mode’s alarms and dashboard on the function', () => {
    scheduled.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(EXPECTED_SCHEDULE_ALARMS).length)
    const topic = { Ref: Match.stringLikeRegexp('RelayAlarmTopic') }
    for (const expected of Object.values(EXPECTED_SCHEDULE_ALARMS))
      scheduled.hasResourceProperties('AWS::CloudWatch::Alarm', cfnAlarm(expected, topic))
    const [dashboard] = Object.values(scheduled.findResources('AWS::CloudWatch::Dashboard'))
    const body = JSON.parse(flattenJoin(dashboard!.Properties.DashboardBody))
    expect(
      body.widgets.flatMap((widget: { properties: { title?: string } }) => widget.properties.title ?? []),
    ).toEqual(EXPECTED_SCHEDULE_WIDGETS)
    expect(JSON.stringify(body)).toMatch(/"FunctionName","<Ref:RelayFunction[0-9A-F]{8}>"/)
  })

  it('bundles @factlib/relay/lambda into index.mjs, which a fresh Node process loads as Lambda does', () => {
    const bundle = join(bundleDirectory, 'index.mjs')
    expect(existsSync(bundle)).toBe(true)
    const loaded = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler)`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    )
    expect(loaded.trim()).toBe('function')
  })

  it('refuses service mode without a cluster', () => {
    const app = new App()
    const other = new Stack(app, 'NoCluster')
    expect(
      () =>
        new FactlibRelay(other, 'Relay', {
          vpc: new ec2.Vpc(other, 'Vpc'),
          databaseSecret: secretsmanager.Secret.fromSecretNameV2(other, 'Secret', 'db-url'),
          kafka: { kind: 'brokers', brokers: 'kafka-1.internal:9092' },
        }),
    ).toThrow(/service mode needs a cluster/)
  })
})
