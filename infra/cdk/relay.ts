import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Duration, Fn, Stack, Token } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import type * as ec2 from 'aws-cdk-lib/aws-ec2'
import { Platform } from 'aws-cdk-lib/aws-ecr-assets'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as logs from 'aws-cdk-lib/aws-logs'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import * as sns from 'aws-cdk-lib/aws-sns'
import { Construct } from 'constructs'
import {
  type AlarmKey,
  dashboardBody,
  type KafkaTarget,
  type MskResource,
  mskTopicArn,
  type RelayDeploymentOptions,
  type RelaySpec,
  relaySpec,
} from '../spec/index.js'

/** The repository root: the Docker build context of the relay's image. */
const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface FactlibRelayProps {
  /** The VPC of the database; the relay needs a route to the database, MSK, ECR, CloudWatch and Secrets Manager. */
  vpc: ec2.IVpc
  /** The ECS cluster to run in. Enable Container Insights on it for the dashboard's task counts. */
  cluster: ecs.ICluster
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
  /** @default the VPC's private subnets */
  vpcSubnets?: ec2.SubnetSelection
  /** @default a new security group with all outbound traffic allowed */
  securityGroups?: ec2.ISecurityGroup[]
  /** @default a new topic named `<name>-alarms` */
  alarmTopic?: sns.ITopic
}

/**
 * The factlib relay on ECS Fargate: one task (or an active one and a hot standby) streaming the slot to
 * Kafka, with its log group, task-role IAM for MSK, alarms on an SNS topic and a lag dashboard, all from
 * the same spec `sst deploy` uses. No load balancer: nothing calls the relay.
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
  readonly service: ecs.FargateService
  readonly taskDefinition: ecs.FargateTaskDefinition
  readonly logGroup: logs.LogGroup
  readonly alarmTopic: sns.ITopic
  readonly alarms: Partial<Record<AlarmKey, cloudwatch.CfnAlarm>> = {}
  readonly dashboard: cloudwatch.CfnDashboard

  constructor(scope: Construct, id: string, props: FactlibRelayProps) {
    super(scope, id)
    const spec = relaySpec({ ...props.options, kafka: props.kafka })
    const { container, service } = spec
    this.spec = spec

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: spec.logs.groupName,
      retention: spec.logs.retentionDays as logs.RetentionDays,
    })

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: container.cpu,
      memoryLimitMiB: container.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    })
    this.taskDefinition.addContainer('Relay', {
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
    if (props.kafka.kind === 'msk-iam') {
      const clusterArn = props.kafka.clusterArn
      for (const statement of spec.iam)
        this.taskDefinition.addToTaskRolePolicy(
          new iam.PolicyStatement({
            actions: statement.actions,
            resources: mskArns(clusterArn, statement.resource),
          }),
        )
    }

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: service.desiredCount,
      minHealthyPercent: service.minimumHealthyPercent,
      maxHealthyPercent: service.maximumPercent,
      circuitBreaker: service.circuitBreaker,
      ...(props.vpcSubnets ? { vpcSubnets: props.vpcSubnets } : {}),
      ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
      assignPublicIp: false,
    })

    this.alarmTopic =
      props.alarmTopic ?? new sns.Topic(this, 'AlarmTopic', { topicName: spec.alarmTopicName })
    for (const alarm of spec.alarms)
      this.alarms[alarm.key] = new cloudwatch.CfnAlarm(this, `${alarm.key}Alarm`, {
        alarmName: alarm.name,
        alarmDescription: alarm.description,
        namespace: alarm.namespace,
        metricName: alarm.metricName,
        dimensions: Object.entries(alarm.dimensions).map(([name, value]) => ({ name, value })),
        statistic: alarm.statistic,
        period: alarm.periodSeconds,
        evaluationPeriods: alarm.evaluationPeriods,
        datapointsToAlarm: alarm.datapointsToAlarm,
        threshold: alarm.threshold,
        comparisonOperator: alarm.comparisonOperator,
        treatMissingData: alarm.treatMissingData,
        alarmActions: [this.alarmTopic.topicArn],
        okActions: [this.alarmTopic.topicArn],
      })

    const alarmArns: Partial<Record<AlarmKey, string>> = {}
    for (const [key, alarm] of Object.entries(this.alarms)) alarmArns[key as AlarmKey] = alarm.attrArn
    const stack = Stack.of(this)
    this.dashboard = new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: spec.dashboardName,
      dashboardBody: stack.toJsonString(
        dashboardBody(spec, {
          region: stack.region,
          clusterName: props.cluster.clusterName,
          serviceName: this.service.serviceName,
          alarmArns,
        }),
      ),
    })
  }

  /** The relay's security group(s): allow them into the database, e.g. `db.connections.allowDefaultPortFrom(relay)`. */
  get connections(): ec2.Connections {
    return this.service.connections
  }
}

/** MSK ARNs for a statement; a cluster ARN that is still a token is split by CloudFormation instead. */
function mskArns(clusterArn: string, resource: MskResource): string[] {
  if (resource.kind === 'cluster') return [clusterArn]
  if (!Token.isUnresolved(clusterArn))
    return resource.patterns.map((pattern) => mskTopicArn(clusterArn, pattern))
  const parts = Fn.split(':cluster/', clusterArn)
  return resource.patterns.map((pattern) =>
    Fn.join('', [Fn.select(0, parts), ':topic/', Fn.select(1, parts), '/', pattern]),
  )
}
