import { Stack, type StackProps } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as msk from 'aws-cdk-lib/aws-msk'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions'
import type { Construct } from 'constructs'
import { FactlibRelay } from '../relay.js'

export interface ExampleStackProps extends StackProps {
  /** Name of an existing Secrets Manager secret whose value is the PostgreSQL URL. */
  databaseSecretName: string
  /** RDS instance (Aurora: writer) holding the slot, for the backstop alarms. */
  databaseInstance?: string
  alarmEmail?: string
  /** `schedule`: a Lambda function drains the slot on a schedule instead of an always-on Fargate task. */
  mode?: 'service' | 'schedule'
  /** The database's host (not secret): a Neon host gets Neon's schedule defaults and checks. */
  databaseHost?: string
  /** Schedule mode: minutes between drains. */
  scheduleMinutes?: number
}

/**
 * A VPC, an ECS cluster (service mode), MSK Serverless and the relay: what `sst deploy` builds, on the CDK.
 * The VPC's NAT gateway is what lets the relay (a task without a public IP, or a Lambda function in the VPC,
 * which never has one) reach a database outside the VPC, such as Neon.
 */
export class ExampleStack extends Stack {
  readonly relay: FactlibRelay

  constructor(scope: Construct, id: string, props: ExampleStackProps) {
    super(scope, id, props)
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1 })
    const schedule = props.mode === 'schedule'
    const cluster = schedule
      ? undefined
      : new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED })

    const kafkaSecurityGroup = new ec2.SecurityGroup(this, 'KafkaSecurityGroup', { vpc })
    const kafka = new msk.CfnServerlessCluster(this, 'Kafka', {
      clusterName: `${id.toLowerCase()}-facts`,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [
        {
          subnetIds: vpc.privateSubnets.map((subnet) => subnet.subnetId),
          securityGroups: [kafkaSecurityGroup.securityGroupId],
        },
      ],
    })

    this.relay = new FactlibRelay(this, 'Relay', {
      vpc,
      ...(cluster ? { cluster } : {}),
      databaseSecret: secretsmanager.Secret.fromSecretNameV2(this, 'DatabaseUrl', props.databaseSecretName),
      kafka: { kind: 'msk-iam', clusterArn: kafka.attrArn },
      options: {
        name: `${id.toLowerCase()}-relay`,
        mode: props.mode ?? 'service',
        ...(props.databaseHost ? { databaseHost: props.databaseHost } : {}),
        ...(props.scheduleMinutes ? { schedule: { intervalMinutes: props.scheduleMinutes } } : {}),
        ...(props.databaseInstance ? { database: { instanceIdentifier: props.databaseInstance } } : {}),
      },
    })
    // MSK Serverless with IAM auth listens on 9098.
    kafkaSecurityGroup.connections.allowFrom(this.relay, ec2.Port.tcp(9098))
    // A consumer's event source mapping (relay.subscribe) polls from the cluster's subnets with the cluster's
    // own security group, and reaches Lambda and STS through the NAT gateway.
    kafkaSecurityGroup.connections.allowInternally(ec2.Port.tcp(9098))
    if (props.alarmEmail)
      this.relay.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail))
  }
}
