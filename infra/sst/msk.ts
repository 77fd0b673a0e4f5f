import * as aws from '@pulumi/aws'
import type * as pulumi from '@pulumi/pulumi'

/**
 * An MSK Serverless cluster with IAM authentication (the only kind MSK Serverless has) in the given
 * subnets; the relay reaches it on port 9098 through the given security groups.
 */
export function createMskServerless(
  name: string,
  args: {
    clusterName: pulumi.Input<string>
    subnetIds: pulumi.Input<pulumi.Input<string>[]>
    securityGroupIds: pulumi.Input<pulumi.Input<string>[]>
  },
  opts?: pulumi.CustomResourceOptions,
): aws.msk.ServerlessCluster {
  return new aws.msk.ServerlessCluster(
    name,
    {
      clusterName: args.clusterName,
      vpcConfigs: [{ subnetIds: args.subnetIds, securityGroupIds: args.securityGroupIds }],
      clientAuthentication: { sasl: { iam: { enabled: true } } },
    },
    opts,
  )
}
