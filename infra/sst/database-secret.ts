import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'

/**
 * A Secrets Manager secret holding the database URL, so ECS injects it as a secret: SST's `link` and
 * `environment` would put it into the task definition in plain text. Resolves to the secret's ARN once
 * the value is stored, so no task starts before it can read it.
 */
export function createDatabaseSecret(
  name: string,
  args: { secretName: pulumi.Input<string>; url: pulumi.Input<string> },
  opts?: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const secret = new aws.secretsmanager.Secret(
    name,
    {
      name: args.secretName,
      description: 'PostgreSQL URL of the factlib relay (DATABASE_URL)',
      // A copy of the value kept in SST's secret: deleting it at once lets the same stage be redeployed.
      recoveryWindowInDays: 0,
    },
    opts,
  )
  const version = new aws.secretsmanager.SecretVersion(
    `${name}Value`,
    { secretId: secret.id, secretString: args.url },
    opts,
  )
  return pulumi.all([secret.arn, version.id]).apply(([arn]) => arn)
}

/**
 * The URL stored in an existing Secrets Manager secret or SSM parameter (by ARN), as a Pulumi secret: for
 * schedule mode, whose function takes `DATABASE_URL` from its environment.
 */
export function readDatabaseUrl(arn: string, opts?: pulumi.InvokeOptions): pulumi.Output<string> {
  const value = arn.includes(':ssm:')
    ? aws.ssm.getParameterOutput({ name: arn, withDecryption: true }, opts).value
    : aws.secretsmanager.getSecretVersionOutput({ secretId: arn }, opts).secretString
  return pulumi.secret(value)
}
