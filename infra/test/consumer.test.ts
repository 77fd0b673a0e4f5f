import { App, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { describe, expect, it } from 'vitest'
import { addConsumerEndpoints, FactlibRelay } from '../cdk/index.js'
import { type ConsumerOptions, consumerSpec, relaySpec } from '../spec/index.js'
import { readDeploySettings, vpcEndpoints } from '../sst/index.js'
import { expectedConsumerStatements, MSK_ARN, MSK_TOPIC_ARN, OPTIONS } from './support.js'

const relay = relaySpec(OPTIONS)
const { kafka: _kafka, ...RELAY_OPTIONS } = OPTIONS
const CONSUMER = { name: 'orders-projection', topic: 'orders.Order' } as const satisfies ConsumerOptions

describe('a consumer in the spec', () => {
  it('has the recommended settings by default: oldest first, 10 retries, partial batch responses, a failure queue, provisioned mode', () => {
    const spec = consumerSpec(relay, CONSUMER)
    expect(spec).toMatchObject({
      name: 'orders-projection',
      clusterArn: MSK_ARN,
      topic: 'orders.Order',
      consumerGroupId: 'orders-projection',
      batchSize: 100,
      maximumBatchingWindowSeconds: undefined,
      startingPosition: 'TRIM_HORIZON',
      maximumRetryAttempts: 10,
      maximumRecordAgeSeconds: undefined,
      bisectBatchOnFunctionError: false,
      functionResponseTypes: ['ReportBatchItemFailures'],
      provisionedPollers: { minimum: 1, maximum: 2 },
      onFailure: { kind: 'queue', queueName: 'orders-projection-failed', retentionSeconds: 1_209_600 },
      endpointServices: ['lambda', 'sts', 'sqs'],
    })
  })

  it('takes every setting, and each failure destination gets its own permission and endpoint', () => {
    const spec = consumerSpec(relay, {
      ...CONSUMER,
      batchSize: 500,
      maximumBatchingWindowSeconds: 5,
      startingPosition: 'LATEST',
      retryAttempts: 0,
      maximumRecordAgeSeconds: 3600,
      bisectOnError: true,
      reportBatchItemFailures: false,
      pollers: { minimum: 2, maximum: 4 },
      onFailure: { sns: 'arn:aws:sns:eu-west-1:123456789012:failed' },
    })
    expect(spec).toMatchObject({
      batchSize: 500,
      maximumBatchingWindowSeconds: 5,
      startingPosition: 'LATEST',
      maximumRetryAttempts: 0,
      maximumRecordAgeSeconds: 3600,
      bisectBatchOnFunctionError: true,
      functionResponseTypes: [],
      provisionedPollers: { minimum: 2, maximum: 4 },
      onFailure: { kind: 'sns', arn: 'arn:aws:sns:eu-west-1:123456789012:failed' },
      endpointServices: ['lambda', 'sts', 'sns'],
    })
    expect(spec.iam.at(-1)).toEqual({ actions: ['sns:Publish'], resource: { kind: 'onFailure' } })
    const s3 = consumerSpec(relay, { ...CONSUMER, onFailure: { s3: 'arn:aws:s3:::failed' } })
    expect(s3.iam.slice(-2)).toEqual([
      { actions: ['s3:ListBucket'], resource: { kind: 'onFailure' } },
      { actions: ['s3:PutObject'], resource: { kind: 'onFailure', suffix: '/*' } },
    ])
    const kafka = consumerSpec(relay, { ...CONSUMER, onFailure: { kafka: 'factlib.dlq' } })
    expect(kafka.onFailure).toEqual({
      kind: 'kafka',
      topic: 'factlib.dlq',
      destination: 'kafka://factlib.dlq',
    })
    expect(kafka.endpointServices).toEqual(['lambda', 'sts'])
    expect(kafka.iam.at(-1)).toEqual({
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resource: { kind: 'topics', patterns: ['factlib.dlq'] },
    })
    // The relay's default pollers follow a larger minimum.
    expect(consumerSpec(relay, { ...CONSUMER, pollers: { minimum: 3 } }).provisionedPollers).toEqual({
      minimum: 3,
      maximum: 3,
    })
  })

  it('refuses what would not work, saying why', () => {
    const refusals: [Partial<ConsumerOptions>, RegExp][] = [
      [{ name: 'orders.projection' }, /consumer name "orders\.projection": use 1 to 72 of/],
      [{ name: '' }, /consumer name "": use 1 to 72/],
      [{ topic: 'orders Order' }, /consumer topic "orders Order": not a Kafka topic name/],
      [
        { topic: 'shipping.Parcel' },
        /the relay does not write it \(it writes orders\.\*, billing\.\*, factlib\.dlq\)/,
      ],
      [{ batchSize: 0 }, /consumer batchSize 0: expected an integer from 1 to 10000/],
      [
        { maximumBatchingWindowSeconds: 301 },
        /maximumBatchingWindowSeconds 301: expected an integer from 0 to 300/,
      ],
      // A starting position this option does not take.
      [
        { startingPosition: 'AT_TIMESTAMP' as never },
        /startingPosition "AT_TIMESTAMP": expected TRIM_HORIZON or LATEST/,
      ],
      [
        { retryAttempts: -1 },
        /retryAttempts -1: retrying for ever lets one fact that always fails block its partition/,
      ],
      [{ retryAttempts: 10_001 }, /retryAttempts 10001: expected an integer from 0 to 10000/],
      [{ maximumRecordAgeSeconds: 30 }, /maximumRecordAgeSeconds 30: expected an integer from 60 to 604800/],
      [{ pollers: { minimum: 0 } }, /pollers\.minimum 0: expected an integer from 1 to 200/],
      [{ pollers: { minimum: 5, maximum: 2 } }, /pollers: minimum 5 is above maximum 2/],
      [{ onFailure: { kafka: 'orders.Order' } }, /cannot be the topic consumed/],
      // Two destinations at once.
      [
        { onFailure: { sqs: 'a', sns: 'b' } as never },
        /expected one of \{ sqs \}, \{ sns \}, \{ s3 \} or \{ kafka \}, got \{ sqs, sns \}/,
      ],
    ]
    for (const [options, error] of refusals)
      expect(() => consumerSpec(relay, { ...CONSUMER, ...options }), String(error)).toThrow(error)
    const brokers = relaySpec({ kafka: { kind: 'brokers', brokers: 'kafka.internal:9092' } })
    expect(() => consumerSpec(brokers, CONSUMER)).toThrow(/needs its MSK cluster/)
  })

  it('the SST app reads a consumer from its deploy settings, and adds endpoints only to a new VPC without NAT', () => {
    const env = {
      FACTLIB_DEPLOY_CONSUMER_FUNCTION: 'orders-projection',
      FACTLIB_DEPLOY_CONSUMER_TOPIC: 'orders.Order',
    }
    const settings = readDeploySettings(env)
    expect(settings.consumer).toEqual({ functionName: 'orders-projection', topic: 'orders.Order' })
    const services = ['lambda', 'sts', 'sqs']
    expect(vpcEndpoints(settings, services)).toEqual(services)
    expect(vpcEndpoints(readDeploySettings({ ...env, FACTLIB_DEPLOY_MODE: 'schedule' }), services)).toEqual(
      [],
    )
    expect(vpcEndpoints(readDeploySettings({ ...env, FACTLIB_DEPLOY_NAT: 'ec2' }), services)).toEqual([])
    expect(vpcEndpoints(readDeploySettings({}), services)).toEqual([])
    expect(
      vpcEndpoints(
        readDeploySettings({
          ...env,
          FACTLIB_DEPLOY_VPC_ID: 'vpc-1',
          FACTLIB_DEPLOY_SUBNET_IDS: 'subnet-a',
          FACTLIB_DEPLOY_SECURITY_GROUP_IDS: 'sg-1',
        }),
        services,
      ),
    ).toEqual([])
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_CONSUMER_TOPIC: 'orders.Order' })).toThrow(
      /FACTLIB_DEPLOY_CONSUMER_TOPIC .*set both FACTLIB_DEPLOY_CONSUMER_FUNCTION and FACTLIB_DEPLOY_CONSUMER_TOPIC/,
    )
    expect(() =>
      readDeploySettings({ ...env, FACTLIB_DEPLOY_CONSUMER_FUNCTION: 'arn:aws:lambda:x' }),
    ).toThrow(/FACTLIB_DEPLOY_CONSUMER_FUNCTION/)
  })
})

/** A stack with the relay (schedule mode: no ECS cluster to build), a consumer function, and `subscribe`. */
function consumerStack(
  options: ConsumerOptions,
  {
    clusterArn = () => MSK_ARN,
    endpoints = false,
  }: { clusterArn?: (stack: Stack) => string; endpoints?: boolean } = {},
) {
  const stack = new Stack(new App(), 'Consumers', { env: { account: '123456789012', region: 'eu-west-1' } })
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 })
  const factlib = new FactlibRelay(stack, 'Relay', {
    vpc,
    databaseSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Url', 'factlib/database-url'),
    kafka: { kind: 'msk-iam', clusterArn: clusterArn(stack) },
    code: lambda.Code.fromInline('export const handler = () => {}'),
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    options: { ...RELAY_OPTIONS, mode: 'schedule' },
  })
  const fn = new lambda.Function(stack, 'Projection', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = () => ({ batchItemFailures: [] })'),
  })
  const consumer = factlib.subscribe(fn, options)
  if (endpoints) addConsumerEndpoints(vpc, consumer.spec.endpointServices)
  return { stack, vpc, consumer, template: Template.fromStack(stack) }
}

describe('FactlibRelay.subscribe on the CDK', () => {
  const { stack, consumer, template } = consumerStack(CONSUMER)

  it('refuses a function imported without its role, which could not be given the topic’s permissions', () => {
    const { stack: other } = consumerStack({ ...CONSUMER, name: 'other' })
    const imported = lambda.Function.fromFunctionArn(
      other,
      'Imported',
      'arn:aws:lambda:eu-west-1:123456789012:function:projection',
    )
    const relay = other.node.findChild('Relay') as FactlibRelay
    expect(() => relay.subscribe(imported, CONSUMER)).toThrow(/no role .*fromFunctionAttributes/)
  })
  const queueArn = stack.resolve(consumer.failureQueue!.queueArn)

  it('maps the topic to the function in provisioned mode, with the retry and failure settings', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1)
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Projection'), 'Arn'] },
      EventSourceArn: MSK_ARN,
      Topics: ['orders.Order'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-projection' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: Match.absent(),
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: Match.absent(),
      BisectBatchOnFunctionError: false,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
      DestinationConfig: { OnFailure: { Destination: queueArn } },
    })
  })

  it('creates the failure queue with 14 days of retention', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'orders-projection-failed',
      MessageRetentionPeriod: 1_209_600,
    })
  })

  it('gives the function’s role the cluster, topic, group, network and queue statements, before the mapping exists', () => {
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^ProjectionServiceRole') }] },
    })
    const [policy, ...others] = Object.entries(policies)
    expect(others).toEqual([])
    const statements = (
      policy![1].Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]
    ).map((statement) => ({
      actions: [statement.Action].flat(),
      resources: [statement.Resource].flat(),
    }))
    expect(statements).toEqual(expectedConsumerStatements(queueArn))
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))
    expect(mapping!.DependsOn).toEqual(expect.arrayContaining([policy![0]]))
  })

  it('takes a given destination instead of the queue: SQS or S3 by ARN, or a Kafka topic', () => {
    const bucket = consumerStack({ ...CONSUMER, onFailure: { s3: 'arn:aws:s3:::failed-batches' } })
    bucket.template.resourceCountIs('AWS::SQS::Queue', 0)
    expect(bucket.consumer.failureQueue).toBeUndefined()
    bucket.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: 'arn:aws:s3:::failed-batches' } },
    })
    bucket.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 's3:ListBucket', Resource: 'arn:aws:s3:::failed-batches' }),
          Match.objectLike({ Action: 's3:PutObject', Resource: 'arn:aws:s3:::failed-batches/*' }),
        ]),
      },
    })
    const queue = consumerStack({
      ...CONSUMER,
      onFailure: { sqs: 'arn:aws:sqs:eu-west-1:123456789012:failed' },
    })
    queue.template.resourceCountIs('AWS::SQS::Queue', 0)
    queue.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Resource: 'arn:aws:sqs:eu-west-1:123456789012:failed',
          }),
        ]),
      },
    })
    const topic = consumerStack({ ...CONSUMER, onFailure: { kafka: 'factlib.dlq' } })
    topic.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: 'kafka://factlib.dlq' } },
    })
    topic.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
            Resource: `${MSK_TOPIC_ARN}/factlib.dlq`,
          }),
        ]),
      },
    })
  })

  it('splits a cluster ARN that is a token in CloudFormation, for the topic and the group', () => {
    const { template } = consumerStack(CONSUMER, {
      clusterArn: (stack) => new ec2.CfnVPC(stack, 'StandIn', { cidrBlock: '10.0.0.0/16' }).attrVpcId,
    })
    const join = (kind: string, name: string) => ({
      'Fn::Join': [
        '',
        [
          { 'Fn::Select': [0, { 'Fn::Split': [':cluster/', Match.anyValue()] }] },
          `:${kind}/`,
          { 'Fn::Select': [1, { 'Fn::Split': [':cluster/', Match.anyValue()] }] },
          `/${name}`,
        ],
      ],
    })
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Resource: join('topic', 'orders.Order') }),
          Match.objectLike({ Resource: join('group', 'orders-projection') }),
        ]),
      },
    })
  })

  it('adds VPC endpoints for Lambda, STS and the queue to a VPC without a NAT gateway', () => {
    const { template } = consumerStack(CONSUMER, { endpoints: true })
    template.resourceCountIs('AWS::EC2::NatGateway', 0)
    for (const service of ['lambda', 'sts', 'sqs'])
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: `com.amazonaws.eu-west-1.${service}`,
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      })
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 3)
  })
})
