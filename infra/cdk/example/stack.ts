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
}

/** A VPC, an ECS cluster, MSK Serverless and the relay: what `sst deploy` builds, on the CDK. */
export class ExampleStack extends Stack {
  readonly relay: FactlibRelay

  constructor(scope: Construct, id: string, props: ExampleStackProps) {
    super(scope, id, props)
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1 })
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    })

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
      cluster,
      databaseSecret: secretsmanager.Secret.fromSecretNameV2(this, 'DatabaseUrl', props.databaseSecretName),
      kafka: { kind: 'msk-iam', clusterArn: kafka.attrArn },
      options: {
        name: `${id.toLowerCase()}-relay`,
        ...(props.databaseInstance ? { database: { instanceIdentifier: props.databaseInstance } } : {}),
      },
    })
    // MSK Serverless with IAM auth listens on 9098.
    kafkaSecurityGroup.connections.allowFrom(this.relay, ec2.Port.tcp(9098))
    if (props.alarmEmail)
      this.relay.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail))
  }
}
