/// <reference path="./.sst/platform/config.d.ts" />

// `sst deploy --stage prod`: the relay on ECS Fargate, MSK Serverless (or an existing MSK cluster), alarms
// and a dashboard. Every decision lives in infra/spec; this file only wires SST's components to it. SST
// forbids top-level imports here, so modules are imported inside run(). See infra/README.md.
export default $config({
  app(input) {
    return {
      name: 'factlib',
      removal: input?.stage === 'prod' ? 'retain' : 'remove',
      protect: input?.stage === 'prod',
      home: 'aws',
    }
  },
  async run() {
    const { relaySpec } = await import('./infra/spec/index.js')
    const infra = await import('./infra/sst/index.js')
    const settings = infra.readDeploySettings(process.env)
    const name = `factlib-relay-${$app.stage}`

    const vpc = settings.vpc ? undefined : new sst.aws.Vpc('Vpc', { az: 2 })
    const network = vpc
      ? { vpc, subnets: vpc.privateSubnets, securityGroups: vpc.securityGroups }
      : {
          vpc: {
            id: settings.vpc!.id,
            securityGroups: settings.vpc!.securityGroupIds,
            containerSubnets: settings.vpc!.subnetIds,
            loadBalancerSubnets: settings.vpc!.subnetIds,
          },
          subnets: settings.vpc!.subnetIds,
          securityGroups: settings.vpc!.securityGroupIds,
        }

    const cluster = new sst.aws.Cluster('Cluster', {
      vpc: network.vpc,
      // Container Insights gives the dashboard its running and desired task counts.
      transform: { cluster: { settings: [{ name: 'containerInsights', value: 'enabled' }] } },
    })

    const msk = settings.mskClusterArn
      ? undefined
      : infra.createMskServerless('Kafka', {
          clusterName: name,
          subnetIds: network.subnets,
          securityGroupIds: network.securityGroups,
        })

    const databaseSecretArn =
      settings.databaseSecretArn ??
      infra.createDatabaseSecret('DatabaseUrlSecret', {
        secretName: `${name}/database-url`,
        url: new sst.Secret('DatabaseUrl').value,
      })

    const spec = relaySpec<$util.Input<string>>({
      name,
      slot: settings.slot,
      sources: settings.sources,
      standby: settings.standby,
      kafka: msk
        ? { kind: 'msk-iam', clusterArn: msk.arn, bootstrapBrokers: msk.bootstrapBrokersSaslIam }
        : { kind: 'msk-iam', clusterArn: settings.mskClusterArn as string },
      database: settings.rdsInstance ? { instanceIdentifier: settings.rdsInstance } : undefined,
    })

    const relay = new sst.aws.Service('Relay', infra.relayServiceArgs({ cluster, spec, databaseSecretArn }))

    const monitoring = infra.createRelayMonitoring('Relay', {
      spec,
      clusterName: cluster.nodes.cluster.name,
      serviceName: relay.nodes.service.name,
      alarmEmails: settings.alarmEmails,
    })

    const region = aws.getRegionOutput().region
    return {
      service: relay.nodes.service.name,
      alarmTopic: monitoring.topic.arn,
      dashboard: $interpolate`https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${monitoring.dashboard.dashboardName}`,
      kafka: msk ? msk.arn : settings.mskClusterArn,
    }
  },
})
