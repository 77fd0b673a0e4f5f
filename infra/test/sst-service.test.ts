import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { relaySpec } from '../spec/index.js'
import { relayServiceArgs } from '../sst/service.js'
import { readDeploySettings, vpcNat } from '../sst/settings.js'
import { MSK_ARN, MSK_TOPIC_ARN, OPTIONS } from './support.js'

// SST's real `sst.aws.Cluster` and `sst.aws.Service`, from .sst/platform, under Pulumi's mocks: proves the
// service arguments and their transforms come out as the intended ECS task definition and service.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const platform = join(root, '.sst/platform')

// As in `sst deploy`, where Pulumi is external to the bundle and resolves to the platform's copy, infra/sst
// must use the same copy of Pulumi as SST's components: outputs of another copy do not serialize.
const { platformPulumi } = vi.hoisted(() => ({
  platformPulumi: new URL('../../.sst/platform/node_modules/@pulumi/pulumi/index.js', import.meta.url).href,
}))
vi.mock('@pulumi/pulumi', () => import(platformPulumi))
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:factlib-relay-test/database-url-AbCdEf'

interface Created {
  type: string
  name: string
  inputs: Record<string, unknown>
}
const created: Created[] = []
const invoked: { token: string; inputs: Record<string, unknown> }[] = []
const one = (type: string) => {
  const matches = created.filter((resource) => resource.type === type)
  expect(matches, type).toHaveLength(1)
  return matches[0]!.inputs
}
let rpcServer: Server

beforeAll(async () => {
  if (!existsSync(join(platform, 'config.d.ts')))
    throw new Error('SST’s platform is not installed: run `npm run infra:types` first')
  // The platform's own copy of Pulumi: its resources register with the mocks of the copy they import.
  const pulumi = (await import(platformPulumi)) as typeof import('@pulumi/pulumi')
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        created.push({ type, name, inputs })
        return {
          id: `${name}-id`,
          state: { ...inputs, arn: `arn:aws:mock:eu-west-1:123456789012:${name}`, name: inputs.name ?? name },
        }
      },
      call: ({ token, inputs }) => {
        invoked.push({ token, inputs })
        if (token === 'aws:index/getRegion:getRegion')
          return { region: 'eu-west-1', name: 'eu-west-1', id: 'eu-west-1' }
        if (token === 'aws:index/getPartition:getPartition') return { partition: 'aws', id: 'aws' }
        if (token === 'aws:index/getCallerIdentity:getCallerIdentity')
          return { accountId: '123456789012', id: '123456789012' }
        if (token === 'aws:iam/getPolicyDocument:getPolicyDocument')
          return { json: JSON.stringify(inputs), id: 'policy' }
        if (token === 'aws:index/getAvailabilityZones:getAvailabilityZones')
          return {
            names: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
            zoneIds: ['a', 'b', 'c'],
            id: 'eu-west-1',
          }
        return inputs
      },
    },
    'factlib',
    'test',
    false,
  )
  // SST's CLI answers its components' questions over a local RPC server; here only the asset bootstrap.
  rpcServer = createServer((request, response) => {
    request.resume()
    request.on('end', () =>
      response.end(
        JSON.stringify({
          result: {
            assetEcrUrl: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/sst-asset',
            assetEcrRegistryId: '123456789012',
          },
        }),
      ),
    )
  })
  await new Promise<void>((done) => rpcServer.listen(0, '127.0.0.1', done))
  process.env.SST_SERVER = `http://127.0.0.1:${(rpcServer.address() as { port: number }).port}`
  Object.assign(globalThis, {
    $app: { name: 'factlib', stage: 'test', removal: 'remove', providers: {}, protect: false },
    $dev: false,
    $cli: {
      command: 'deploy',
      rpc: '',
      paths: { home: root, root, work: root, platform },
      state: { version: {} },
    },
    $util: pulumi,
    $output: pulumi.output,
    $interpolate: pulumi.interpolate,
    $jsonStringify: pulumi.jsonStringify,
    $jsonParse: pulumi.jsonParse,
    $concat: pulumi.concat,
    $resolve: pulumi.all,
  })
  const component = await import(join(platform, 'src/components/component.ts'))
  Object.assign(globalThis, { $transform: component.$transform, $asset: component.$asset })
  const { Cluster } = await import(join(platform, 'src/components/aws/cluster.ts'))
  const { Service } = await import(join(platform, 'src/components/aws/service.ts'))
  const { Vpc } = await import(join(platform, 'src/components/aws/vpc.ts'))

  // The NAT step of sst.config.ts in schedule mode: SST's own VPC with a managed NAT gateway.
  const vpc = new Vpc('Vpc', { az: 2, nat: vpcNat(readDeploySettings({ FACTLIB_DEPLOY_MODE: 'schedule' })) })
  await new Promise((done) => vpc.privateSubnets.apply(done))

  const cluster = new Cluster('Cluster', {
    vpc: {
      id: 'vpc-1',
      securityGroups: ['sg-1'],
      containerSubnets: ['subnet-1', 'subnet-2'],
      loadBalancerSubnets: ['subnet-1'],
    },
  })
  const spec = relaySpec<string>(OPTIONS)
  const service = new Service('Relay', relayServiceArgs({ cluster, spec, databaseSecretArn: SECRET_ARN }))
  // Everything registered once the last resources in SST's order have their ids.
  await new Promise((done) => service.nodes.taskDefinition.containerDefinitions.apply(done))
  await new Promise((done) => service.nodes.service.id.apply(done))
  await new Promise((done) => service.nodes.autoScalingTarget.id.apply(done))
}, 120_000)
afterAll(() => new Promise((done) => rpcServer?.close(done)))

describe('sst.aws.Vpc in schedule mode', () => {
  it('gets a managed NAT gateway per zone, and private subnets route the internet through it', () => {
    const gateways = created.filter((resource) => resource.type === 'aws:ec2/natGateway:NatGateway')
    expect(gateways).toHaveLength(2)
    const natRoutes = created
      .filter((resource) => resource.type === 'aws:ec2/routeTable:RouteTable')
      .flatMap(
        (table) => (table.inputs.routes as { cidrBlock?: string; natGatewayId?: string }[] | undefined) ?? [],
      )
      .filter((route) => route.natGatewayId)
    expect(natRoutes).toHaveLength(2)
    for (const route of natRoutes) expect(route.cidrBlock).toBe('0.0.0.0/0')
  })
})

describe('sst.aws.Service with the relay’s arguments', () => {
  it('builds the image from packages/relay/Dockerfile with the repository as context, for linux/arm64', () => {
    const image = one('docker-build:index:Image')
    expect(image).toMatchObject({
      context: { location: root },
      dockerfile: { location: join(root, 'packages/relay/Dockerfile') },
      platforms: ['linux/arm64'],
      push: true,
    })
  })

  it('defines an arm64 task with the relay container: health check, stop timeout, secret, no TTY', () => {
    const task = one('aws:ecs/taskDefinition:TaskDefinition')
    expect(task).toMatchObject({
      cpu: '512',
      memory: '1024',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    })
    // Secret, because it holds the image registry's credentials: Pulumi wraps the JSON.
    const definitions = task.containerDefinitions as { value: string }
    const [container, ...others] = JSON.parse(definitions.value)
    expect(others).toEqual([])
    expect(container).toMatchObject({
      command: ['relay'],
      healthCheck: {
        command: ['CMD', 'node', '-e', expect.stringContaining('http://127.0.0.1:8080/healthz')],
        interval: 30,
        timeout: 5,
        retries: 3,
        startPeriod: 60,
      },
      stopTimeout: 35,
      pseudoTerminal: false,
      linuxParameters: { initProcessEnabled: true },
      secrets: [{ name: 'DATABASE_URL', valueFrom: SECRET_ARN }],
      logConfiguration: {
        logDriver: 'awslogs',
        options: expect.objectContaining({ 'awslogs-group': '/factlib/factlib-relay-test' }),
      },
    })
    const environment = Object.fromEntries(
      (container.environment as { name: string; value: string }[]).map(({ name, value }) => [name, value]),
    )
    expect(environment).toMatchObject({
      FACTLIB_SLOT: 'orders_slot',
      KAFKA_CLUSTER_ARN: MSK_ARN,
      KAFKA_SASL: 'iam',
      FACTLIB_METRICS: 'emf',
      FACTLIB_SHUTDOWN_TIMEOUT: '25',
    })
    expect(environment).not.toHaveProperty('DATABASE_URL')
    expect(one('aws:cloudwatch/logGroup:LogGroup')).toMatchObject({
      name: '/factlib/factlib-relay-test',
      retentionInDays: 30,
    })
  })

  it('runs one task at 0/100 with rollback, behind no load balancer and without autoscaling policies', () => {
    expect(one('aws:ecs/service:Service')).toMatchObject({
      desiredCount: 1,
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      loadBalancers: [],
      networkConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'] },
    })
    expect(created.filter((resource) => resource.type.startsWith('aws:lb/'))).toEqual([])
    expect(created.filter((resource) => resource.type === 'aws:appautoscaling/policy:Policy')).toEqual([])
    expect(one('aws:appautoscaling/target:Target')).toMatchObject({ minCapacity: 1, maxCapacity: 1 })
  })

  it('gives the task role the MSK statements', () => {
    const documents = invoked.filter((call) => call.token === 'aws:iam/getPolicyDocument:getPolicyDocument')
    const statements = documents.flatMap(
      (document) => document.inputs.statements as { actions: string[]; resources: string[] }[],
    )
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actions: [
            'kafka-cluster:Connect',
            'kafka-cluster:DescribeCluster',
            'kafka-cluster:WriteDataIdempotently',
          ],
          resources: [MSK_ARN],
        }),
        expect.objectContaining({
          actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:WriteData'],
          resources: [
            `${MSK_TOPIC_ARN}/orders.*`,
            `${MSK_TOPIC_ARN}/billing.*`,
            `${MSK_TOPIC_ARN}/factlib.dlq`,
          ],
        }),
        expect.objectContaining({ actions: ['kafka:GetBootstrapBrokers'], resources: [MSK_ARN] }),
      ]),
    )
  })
})
