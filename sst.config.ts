/// <reference path="./.sst/platform/config.d.ts" />

// `sst deploy --stage prod`: the relay on ECS Fargate (service mode) or as a Lambda function draining the slot
// on an EventBridge schedule (FACTLIB_DEPLOY_MODE=schedule), MSK Serverless (or an existing MSK cluster),
// alarms and a dashboard. Every decision lives in infra/spec; this file only wires SST's components to it. SST
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
    const { consumerSpec, relaySpec } = await import('./infra/spec/index.js')
    const infra = await import('./infra/sst/index.js')
    const settings = infra.readDeploySettings(process.env)
    const name = `factlib-relay-${$app.stage}`

    // The NAT step: schedule mode (a Lambda in a VPC has no public IP) and a database outside the VPC need
    // one; FACTLIB_DEPLOY_NAT=ec2 picks SST's cheaper NAT instance, FACTLIB_DEPLOY_NAT=none skips it.
    const nat = infra.vpcNat(settings)
    const vpc = settings.vpc ? undefined : new sst.aws.Vpc('Vpc', { az: 2, ...(nat ? { nat } : {}) })
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

    const msk = settings.mskClusterArn
      ? undefined
      : infra.createMskServerless('Kafka', {
          clusterName: name,
          subnetIds: network.subnets,
          securityGroupIds: network.securityGroups,
        })

    const spec = relaySpec<$util.Input<string>>({
      name,
      mode: settings.mode,
      ...(settings.scheduleMinutes ? { schedule: { intervalMinutes: settings.scheduleMinutes } } : {}),
      databaseHost: settings.databaseHost,
      slot: settings.slot,
      sources: settings.sources,
      standby: settings.standby,
      kafka: msk
        ? { kind: 'msk-iam', clusterArn: msk.arn, bootstrapBrokers: msk.bootstrapBrokersSaslIam }
        : { kind: 'msk-iam', clusterArn: settings.mskClusterArn as string },
      database: settings.rdsInstance ? { instanceIdentifier: settings.rdsInstance } : undefined,
    })

    const region = aws.getRegionOutput().region
    const kafka = msk ? msk.arn : settings.mskClusterArn

    // A consumer: an existing function subscribed to a fact topic (FACTLIB_DEPLOY_CONSUMER_FUNCTION and _TOPIC).
    // Its event source mapping reaches Lambda, STS and the failure queue through the NAT step or, without
    // one, through the VPC endpoints step.
    if (settings.consumer) {
      const consumer = consumerSpec(spec, {
        name: settings.consumer.functionName,
        topic: settings.consumer.topic,
      })
      const services = infra.vpcEndpoints(settings, consumer.endpointServices)
      if (vpc && services.length)
        infra.createVpcEndpoints('Endpoints', {
          vpcId: vpc.id,
          services,
          subnetIds: vpc.privateSubnets,
          securityGroupIds: vpc.securityGroups,
        })
      const fn = aws.lambda.getFunctionOutput({ functionName: settings.consumer.functionName })
      infra.subscribeConsumer('Consumer', {
        spec: consumer,
        functionName: fn.arn,
        // arn:aws:iam::<account>:role/<path/><name>
        roleName: fn.role.apply((arn) => arn.split('/').at(-1) as string),
      })
    }

    if (spec.schedule) {
      // Lambda injects no secrets: the URL goes into the function's encrypted environment at deploy time.
      const databaseUrl = settings.databaseSecretArn
        ? infra.readDatabaseUrl(settings.databaseSecretArn)
        : new sst.Secret('DatabaseUrl').value
      // The bundle of @factlib/relay/lambda: built here with esbuild, or already built (FACTLIB_DEPLOY_LAMBDA_BUNDLE).
      const bundleDirectory =
        settings.lambdaBundle ??
        (await (
          await import('./infra/lambda/bundle.js')
        ).buildRelayLambda(`${$cli.paths.root}/.sst/artifacts/factlib-relay-lambda`))
      const relay = infra.createRelaySchedule('Relay', {
        spec,
        bundleDirectory,
        subnetIds: network.subnets,
        securityGroupIds: network.securityGroups,
        databaseUrl,
      })
      const monitoring = infra.createRelayMonitoring('Relay', {
        spec,
        functionName: relay.function.name,
        alarmEmails: settings.alarmEmails,
      })
      return {
        function: relay.function.name,
        schedule: spec.schedule.expression,
        alarmTopic: monitoring.topic.arn,
        dashboard: $interpolate`https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${monitoring.dashboard.dashboardName}`,
        kafka,
      }
    }

    const cluster = new sst.aws.Cluster('Cluster', {
      vpc: network.vpc,
      // Container Insights gives the dashboard its running and desired task counts.
      transform: { cluster: { settings: [{ name: 'containerInsights', value: 'enabled' }] } },
    })
    const databaseSecretArn =
      settings.databaseSecretArn ??
      infra.createDatabaseSecret('DatabaseUrlSecret', {
        secretName: `${name}/database-url`,
        url: new sst.Secret('DatabaseUrl').value,
      })
    const relay = new sst.aws.Service('Relay', infra.relayServiceArgs({ cluster, spec, databaseSecretArn }))
    const monitoring = infra.createRelayMonitoring('Relay', {
      spec,
      clusterName: cluster.nodes.cluster.name,
      serviceName: relay.nodes.service.name,
      alarmEmails: settings.alarmEmails,
    })
    return {
      service: relay.nodes.service.name,
      alarmTopic: monitoring.topic.arn,
      dashboard: $interpolate`https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${monitoring.dashboard.dashboardName}`,
      kafka,
    }
  },
})
