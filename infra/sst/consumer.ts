import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { type ConsumerSpec, mappingSettings } from '../spec/index.js'
import { mskArnInputs } from './service.js'

export interface ConsumerInput {
  /** `consumerSpec(relaySpec, options)`. */
  spec: ConsumerSpec<pulumi.Input<string>>
  /** The function's name or ARN (`sst.aws.Function`: `fn.name`). */
  functionName: pulumi.Input<string>
  /** Its execution role's name (`sst.aws.Function`: `fn.nodes.role.name`). */
  roleName: pulumi.Input<string>
}

export interface Consumer {
  eventSourceMapping: aws.lambda.EventSourceMapping
  policy: aws.iam.RolePolicy
  /** The default failure destination; absent when the spec names one. */
  failureQueue?: aws.sqs.Queue
}

/**
 * Subscribe a Lambda function to one fact topic of the relay's MSK cluster: the event source mapping in
 * provisioned mode with the spec's retry and failure settings, the role policy (cluster, topic, consumer
 * group, network interfaces, failure destination) and, by default, the SQS queue `<name>-failed`. The
 * mapping polls from the cluster's subnets, which need a route to Lambda and STS (`vpcNat`, or
 * {@link createVpcEndpoints} with `spec.endpointServices`).
 *
 * @example
 * ```ts
 * const fn = new sst.aws.Function('Projection', { handler: 'src/projection.handler' })
 * infra.subscribeConsumer('Projection', {
 *   spec: consumerSpec(spec, { name: 'orders-projection', topic: 'orders.Order' }),
 *   functionName: fn.name,
 *   roleName: fn.nodes.role.name,
 * })
 * ```
 */
export function subscribeConsumer(
  name: string,
  input: ConsumerInput,
  opts?: pulumi.CustomResourceOptions,
): Consumer {
  const { spec } = input
  const failureQueue =
    spec.onFailure.kind === 'queue'
      ? new aws.sqs.Queue(
          `${name}Failed`,
          { name: spec.onFailure.queueName, messageRetentionSeconds: spec.onFailure.retentionSeconds },
          opts,
        )
      : undefined
  const destination: pulumi.Input<string> =
    spec.onFailure.kind === 'queue'
      ? failureQueue!.arn
      : spec.onFailure.kind === 'kafka'
        ? spec.onFailure.destination
        : spec.onFailure.arn
  const policy = new aws.iam.RolePolicy(
    `${name}Policy`,
    {
      role: input.roleName,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: spec.iam.map(({ actions, resource }) => ({
          Effect: 'Allow',
          Action: actions,
          Resource:
            resource.kind === 'any'
              ? ['*']
              : resource.kind === 'onFailure'
                ? [pulumi.interpolate`${destination}${resource.suffix ?? ''}`]
                : mskArnInputs(spec.clusterArn, resource),
        })),
      }),
    },
    opts,
  )
  const eventSourceMapping = new aws.lambda.EventSourceMapping(
    `${name}Mapping`,
    {
      ...mappingSettings(spec),
      functionName: input.functionName,
      destinationConfig: { onFailure: { destinationArn: destination } },
    },
    // Lambda checks the execution role when it creates the mapping: the policy comes first.
    { ...opts, dependsOn: [policy] },
  )
  return { eventSourceMapping, policy, ...(failureQueue ? { failureQueue } : {}) }
}

/**
 * VPC endpoints for a VPC without a NAT gateway: an interface endpoint with private DNS per service (`lambda`,
 * `sts`, `sqs`, `sns`) in the given subnets and security groups (which must admit HTTPS from the cluster's
 * security group), and a gateway endpoint for `s3` on the given route tables.
 */
export function createVpcEndpoints(
  name: string,
  args: {
    vpcId: pulumi.Input<string>
    services: string[]
    subnetIds: pulumi.Input<pulumi.Input<string>[]>
    securityGroupIds: pulumi.Input<pulumi.Input<string>[]>
    routeTableIds?: pulumi.Input<pulumi.Input<string>[]>
  },
  opts?: pulumi.CustomResourceOptions,
): aws.ec2.VpcEndpoint[] {
  const region = aws.getRegionOutput({}, opts).region
  return args.services.map((service) => {
    const id = `${name}${service[0]!.toUpperCase()}${service.slice(1)}`
    const serviceName = pulumi.interpolate`com.amazonaws.${region}.${service}`
    if (service === 's3') {
      if (!args.routeTableIds)
        throw new Error('createVpcEndpoints: an S3 gateway endpoint needs routeTableIds')
      return new aws.ec2.VpcEndpoint(
        id,
        { vpcId: args.vpcId, serviceName, vpcEndpointType: 'Gateway', routeTableIds: args.routeTableIds },
        opts,
      )
    }
    return new aws.ec2.VpcEndpoint(
      id,
      {
        vpcId: args.vpcId,
        serviceName,
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: args.subnetIds,
        securityGroupIds: args.securityGroupIds,
      },
      opts,
    )
  })
}
