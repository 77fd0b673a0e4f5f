import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AssetHashType, DockerImage, Duration, Fn, Stack, Token } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import { Platform } from 'aws-cdk-lib/aws-ecr-assets'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import * as logs from 'aws-cdk-lib/aws-logs'
import * as scheduler from 'aws-cdk-lib/aws-scheduler'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import * as sns from 'aws-cdk-lib/aws-sns'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import { buildRelayLambdaSync } from '../lambda/bundle.js'
import {
  type AlarmKey,
  type ConsumerOptions,
  type ConsumerSpec,
  cloudWatchAlarmProps,
  consumerSpec,
  dashboardBody,
  type KafkaTarget,
  type MskResource,
  mappingSettings,
  mskResourceArns,
  type RelayDeploymentOptions,
  type RelaySpec,
  relaySpec,
} from '../spec/index.js'

/** The repository root: the Docker build context of the relay's image. */
const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface FactlibRelayProps {
  /** The VPC of the database; the relay needs a route to the database, MSK, ECR, CloudWatch and Secrets Manager. */
  vpc: ec2.IVpc
  /**
   * Service mode: the ECS cluster to run in (required). Enable Container Insights on it for the dashboard's
   * task counts. Schedule mode runs no task and takes none.
   */
  cluster?: ecs.ICluster
  /** The secret holding the PostgreSQL URL; injected as the container's `DATABASE_URL` secret. */
  databaseSecret: secretsmanager.ISecret
  /** The JSON key of the URL when the secret is a JSON object. @default the whole secret is the URL */
  databaseSecretField?: string
  /** MSK with IAM auth (by ARN, brokers optional) or plain brokers. */
  kafka: KafkaTarget
  /** Slot, sources, size, standby, thresholds and the rest; see {@link RelayDeploymentOptions}. */
  options?: Omit<RelayDeploymentOptions, 'kafka'>
  /** @default the image built from packages/relay/Dockerfile for linux/arm64 */
  image?: ecs.ContainerImage
  /** Schedule mode. @default the bundle of `@factlib/relay/lambda`, built with esbuild at synth time */
  code?: lambda.Code
  /**
   * @default the VPC's private subnets. In schedule mode they need a NAT gateway to reach a database outside
   * the VPC (Neon): a Lambda function in a VPC never has a public IP.
   */
  vpcSubnets?: ec2.SubnetSelection
  /** @default a new security group with all outbound traffic allowed */
  securityGroups?: ec2.ISecurityGroup[]
  /** @default a new topic named `<name>-alarms` */
  alarmTopic?: sns.ITopic
}

/**
 * The factlib relay. Service mode (the default): on ECS Fargate, one task (or an active one and a hot
 * standby) streaming the slot to Kafka; no load balancer, nothing calls it. Schedule mode
 * (`options.mode: 'schedule'`): a Lambda function in the VPC draining the slot on an EventBridge Scheduler
 * schedule. Either way with its log group, IAM for MSK, alarms on an SNS topic and a lag dashboard, all from
 * the same spec `sst deploy` uses.
 *
 * @example
 * ```ts
 * const relay = new FactlibRelay(this, 'Relay', {
 *   vpc,
 *   cluster,
 *   databaseSecret,
 *   kafka: { kind: 'msk-iam', clusterArn: msk.attrArn },
 *   options: { slot: 'orders', sources: ['orders'], database: { instanceIdentifier: 'orders-db' } },
 * })
 * database.connections.allowDefaultPortFrom(relay)
 * relay.alarmTopic.addSubscription(new subscriptions.EmailSubscription('oncall@example.com'))
 * ```
 */
export class FactlibRelay extends Construct implements ec2.IConnectable {
  readonly spec: RelaySpec
  /** Service mode. */
  readonly service?: ecs.FargateService
  readonly taskDefinition?: ecs.FargateTaskDefinition
  /** Schedule mode. */
  readonly function?: lambda.Function
  readonly schedule?: scheduler.CfnSchedule
  readonly logGroup: logs.LogGroup
  readonly alarmTopic: sns.ITopic
  readonly alarms: Partial<Record<AlarmKey, cloudwatch.CfnAlarm>> = {}
  readonly dashboard: cloudwatch.CfnDashboard

  constructor(scope: Construct, id: string, props: FactlibRelayProps) {
    super(scope, id)
    const spec = relaySpec({ ...props.options, kafka: props.kafka })
    this.spec = spec

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: spec.logs.groupName,
      retention: spec.logs.retentionDays as logs.RetentionDays,
    })

    let names: { clusterName?: string; serviceName?: string; functionName?: string }
    if (spec.schedule) {
      const relay = this.createSchedule(spec, props)
      this.function = relay.function
      this.schedule = relay.schedule
      this.connectionsOf = relay.function.connections
      names = { functionName: relay.function.functionName }
    } else {
      const relay = this.createService(spec, props)
      this.taskDefinition = relay.taskDefinition
      this.service = relay.service
      this.connectionsOf = relay.service.connections
      names = { clusterName: relay.service.cluster.clusterName, serviceName: relay.service.serviceName }
    }

    this.alarmTopic =
      props.alarmTopic ?? new sns.Topic(this, 'AlarmTopic', { topicName: spec.alarmTopicName })
    for (const alarm of spec.alarms)
      this.alarms[alarm.key] = new cloudwatch.CfnAlarm(this, `${alarm.key}Alarm`, {
        alarmName: alarm.name,
        dimensions: Object.entries(alarm.dimensions).map(([name, value]) => ({ name, value })),
        ...cloudWatchAlarmProps(alarm, this.alarmTopic.topicArn),
      })

    const alarmArns: Partial<Record<AlarmKey, string>> = {}
    for (const [key, alarm] of Object.entries(this.alarms)) alarmArns[key as AlarmKey] = alarm.attrArn
    const stack = Stack.of(this)
    this.dashboard = new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: spec.dashboardName,
      dashboardBody: stack.toJsonString(
        dashboardBody(spec, {
          region: stack.region,
          ...names,
          alarmArns,
        }),
      ),
    })
  }

  private readonly connectionsOf: ec2.Connections

  /**
   * Subscribe a Lambda function to one fact topic of the relay's MSK cluster: an event source mapping in
   * provisioned mode with the consumer spec's retry and failure settings, the execution role's statements for
   * the cluster, the topic, the consumer group, the network interfaces and the failure destination, and (by
   * default) an SQS queue `<name>-failed` for what Lambda gives up on.
   *
   * The mapping polls from the cluster's subnets with the cluster's security group: that group must admit
   * itself on 9098, and the subnets need a route to Lambda and STS (a NAT gateway, or {@link addConsumerEndpoints}).
   *
   * @example
   * ```ts
   * const consumer = relay.subscribe(projection, { name: 'orders-projection', topic: 'orders.Order' })
   * mskSecurityGroup.connections.allowInternally(ec2.Port.tcp(9098))
   * consumer.failureQueue // the SQS queue the failed batches' metadata goes to
   * ```
   */
  subscribe(fn: lambda.IFunction, options: ConsumerOptions): FactlibConsumer {
    // addToRolePolicy does nothing without a role, and the deploy would fail later on the mapping, unclearly.
    if (!fn.role)
      throw new Error(
        `subscribe(${fn.node.id}): the function has no role CDK can add the topic's permissions to; import it with its role (lambda.Function.fromFunctionAttributes(…, { role }))`,
      )
    const spec = consumerSpec(this.spec, options)
    const scope = new Construct(this, `Consumer-${spec.name}`)
    const failureQueue =
      spec.onFailure.kind === 'queue'
        ? new sqs.Queue(scope, 'Failed', {
            queueName: spec.onFailure.queueName,
            retentionPeriod: Duration.seconds(spec.onFailure.retentionSeconds),
          })
        : undefined
    const destination =
      spec.onFailure.kind === 'queue'
        ? failureQueue!.queueArn
        : spec.onFailure.kind === 'kafka'
          ? spec.onFailure.destination
          : spec.onFailure.arn
    for (const statement of spec.iam)
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: statement.actions,
          resources:
            statement.resource.kind === 'any'
              ? ['*']
              : statement.resource.kind === 'onFailure'
                ? [destination + (statement.resource.suffix ?? '')]
                : mskArns(spec.clusterArn, statement.resource),
        }),
      )
    const eventSourceMapping = new lambda.CfnEventSourceMapping(scope, 'Mapping', {
      ...mappingSettings(spec),
      functionName: fn.functionArn,
      destinationConfig: { onFailure: { destination } },
    })
    // Lambda checks the execution role when it creates the mapping: the role's policy comes first.
    eventSourceMapping.node.addDependency(fn)
    return { spec, eventSourceMapping, ...(failureQueue ? { failureQueue } : {}) }
  }

  /** The relay's security group(s): allow them into the database, e.g. `db.connections.allowDefaultPortFrom(relay)`. */
  get connections(): ec2.Connections {
    return this.connectionsOf
  }

  private createService(spec: RelaySpec, props: FactlibRelayProps) {
    const { container, service } = spec
    if (!props.cluster)
      throw new Error("FactlibRelay: service mode needs a cluster (or set options.mode: 'schedule')")
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: container.cpu,
      memoryLimitMiB: container.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    })
    taskDefinition.addContainer('Relay', {
      containerName: container.name,
      image:
        props.image ??
        ecs.ContainerImage.fromAsset(REPOSITORY_ROOT, {
          file: container.image.dockerfile,
          platform: Platform.LINUX_ARM64,
        }),
      command: [...container.command],
      environment: container.environment as Record<string, string>,
      secrets: {
        DATABASE_URL: ecs.Secret.fromSecretsManager(props.databaseSecret, props.databaseSecretField),
      },
      healthCheck: {
        command: container.healthCheck.command,
        interval: Duration.seconds(container.healthCheck.intervalSeconds),
        timeout: Duration.seconds(container.healthCheck.timeoutSeconds),
        retries: container.healthCheck.retries,
        startPeriod: Duration.seconds(container.healthCheck.startPeriodSeconds),
      },
      stopTimeout: Duration.seconds(container.stopTimeoutSeconds),
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', {
        initProcessEnabled: container.initProcessEnabled,
      }),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'relay' }),
    })
    for (const statement of mskPolicyStatements(spec)) taskDefinition.addToTaskRolePolicy(statement)

    const fargateService = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition,
      desiredCount: service.desiredCount,
      minHealthyPercent: service.minimumHealthyPercent,
      maxHealthyPercent: service.maximumPercent,
      circuitBreaker: service.circuitBreaker,
      ...(props.vpcSubnets ? { vpcSubnets: props.vpcSubnets } : {}),
      ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
      assignPublicIp: false,
    })

    return { taskDefinition, service: fargateService }
  }

  /** Schedule mode: the function in the VPC, its async invoke settings, and the schedule invoking it. */
  private createSchedule(spec: RelaySpec, props: FactlibRelayProps) {
    const schedule = spec.schedule!
    const databaseUrl = props.databaseSecretField
      ? props.databaseSecret.secretValueFromJson(props.databaseSecretField)
      : props.databaseSecret.secretValue
    const fn = new lambda.Function(this, 'Function', {
      functionName: schedule.functionName,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: schedule.handler,
      code: props.code ?? relayLambdaCode(),
      memorySize: schedule.memoryMiB,
      timeout: Duration.seconds(schedule.timeoutSeconds),
      reservedConcurrentExecutions: schedule.reservedConcurrency,
      retryAttempts: schedule.maximumRetryAttempts,
      maxEventAge: Duration.seconds(schedule.maximumEventAgeSeconds),
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
      environment: {
        ...(schedule.environment as Record<string, string>),
        // Lambda injects no secrets: CloudFormation resolves this dynamic reference at deploy time, so the
        // URL is in the function's (KMS-encrypted) configuration, never in the template.
        DATABASE_URL: databaseUrl.unsafeUnwrap(),
      },
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.TEXT,
    })
    for (const statement of mskPolicyStatements(spec)) fn.addToRolePolicy(statement)
    const role = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    })
    fn.grantInvoke(role)
    const cfnSchedule = new scheduler.CfnSchedule(this, 'Schedule', {
      name: schedule.functionName,
      scheduleExpression: schedule.expression,
      flexibleTimeWindow: { mode: schedule.flexibleTimeWindow },
      target: { arn: fn.functionArn, roleArn: role.roleArn, retryPolicy: schedule.schedulerRetryPolicy },
    })
    return { function: fn, schedule: cfnSchedule }
  }
}

/** What {@link FactlibRelay.subscribe} created. */
export interface FactlibConsumer {
  spec: ConsumerSpec
  eventSourceMapping: lambda.CfnEventSourceMapping
  /** The default failure destination; absent when `onFailure` names one. */
  failureQueue?: sqs.Queue
}

const ENDPOINT_SERVICES: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  lambda: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
  sts: ec2.InterfaceVpcEndpointAwsService.STS,
  sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
  sns: ec2.InterfaceVpcEndpointAwsService.SNS,
}

/**
 * VPC endpoints for a consumer's event source mapping, for a VPC without a NAT gateway: an interface endpoint
 * (private DNS, HTTPS from the VPC) per service in `subnets` (the cluster's), and a gateway endpoint for S3.
 *
 * @example
 * ```ts
 * addConsumerEndpoints(vpc, consumer.spec.endpointServices, { subnetType: ec2.SubnetType.PRIVATE_ISOLATED })
 * ```
 */
export function addConsumerEndpoints(
  vpc: ec2.Vpc,
  services: string[],
  subnets?: ec2.SubnetSelection,
): (ec2.InterfaceVpcEndpoint | ec2.GatewayVpcEndpoint)[] {
  return services.map((service) => {
    const id = `${service[0]!.toUpperCase()}${service.slice(1)}Endpoint`
    if (service === 's3')
      return vpc.addGatewayEndpoint(id, {
        service: ec2.GatewayVpcEndpointAwsService.S3,
        ...(subnets ? { subnets: [subnets] } : {}),
      })
    const endpoint = ENDPOINT_SERVICES[service]
    if (!endpoint) throw new Error(`addConsumerEndpoints: no endpoint for ${service}`)
    return vpc.addInterfaceEndpoint(id, {
      service: endpoint,
      privateDnsEnabled: true,
      ...(subnets ? { subnets } : {}),
    })
  })
}

/** The bundle of `@factlib/relay/lambda`, built by esbuild on this machine at synth time (no Docker). */
function relayLambdaCode(): lambda.Code {
  return lambda.Code.fromAsset(resolve(REPOSITORY_ROOT, 'infra/lambda'), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Used only when local bundling fails; it does not here.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: {
        tryBundle(outputDir: string) {
          buildRelayLambdaSync(outputDir)
          return true
        },
      },
    },
  })
}

/** The spec's MSK statements as IAM statements (none for plain brokers). */
function mskPolicyStatements(spec: RelaySpec): iam.PolicyStatement[] {
  if (spec.kafka.kind !== 'msk-iam') return []
  const clusterArn = spec.kafka.clusterArn
  return spec.iam.map(
    (statement) =>
      new iam.PolicyStatement({
        actions: statement.actions,
        resources: mskArns(clusterArn, statement.resource),
      }),
  )
}

/** MSK ARNs for a statement; a cluster ARN that is still a token is split by CloudFormation instead. */
export function mskArns(clusterArn: string, resource: MskResource): string[] {
  if (resource.kind === 'cluster' || !Token.isUnresolved(clusterArn))
    return mskResourceArns(clusterArn, resource)
  const parts = Fn.split(':cluster/', clusterArn)
  const [kind, names] = resource.kind === 'topics' ? ['topic', resource.patterns] : ['group', resource.names]
  return names.map((name) => Fn.join('', [Fn.select(0, parts), `:${kind}/`, Fn.select(1, parts), '/', name]))
}
