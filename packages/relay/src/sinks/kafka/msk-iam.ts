import { FactlibError } from '@factlib/emit'
import { errorMessage } from '../../util/error-fields.js'
import { mskIamActions } from './permissions.js'

/** A bearer token and when it expires (ms since the epoch), as `aws-msk-iam-sasl-signer-js` returns it. */
export interface BearerToken {
  token: string
  expiryTime: number
}

/** AWS credentials for signing, e.g. from `@aws-sdk/credential-providers`. */
export type AwsCredentialsProvider = () => Promise<{
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
}>

/** The region of an ARN: `arn:aws:kafka:eu-west-1:123456789012:cluster/orders/…` → `eu-west-1`. */
export function regionFromArn(arn: string): string | undefined {
  const region = arn.split(':')[3]
  return region ? region : undefined
}

/**
 * The AWS region to sign MSK IAM tokens for: the cluster ARN's, else `given`, else AWS_REGION, else
 * AWS_DEFAULT_REGION; undefined when there is none.
 */
export function signingRegion(
  clusterArn: string | undefined,
  given?: string,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  return (
    (clusterArn && regionFromArn(clusterArn)) ||
    given ||
    env.AWS_REGION ||
    env.AWS_DEFAULT_REGION ||
    undefined
  )
}

/**
 * MSK IAM tokens (SASL/OAUTHBEARER): a SigV4-presigned `kafka-cluster:Connect` URL, signed locally with the
 * default AWS credential chain (the ECS task role) or the given provider. The signer package is loaded
 * on first use only, so relays without IAM never load the AWS SDK.
 *
 * @example
 * ```ts
 * const tokens = mskIamTokens({ region: 'eu-west-1' })
 * const { token, expiryTime } = await tokens()
 * ```
 */
export function mskIamTokens(options: {
  region: string
  credentials?: AwsCredentialsProvider
}): () => Promise<BearerToken> {
  return async () => {
    const signer = await import('aws-msk-iam-sasl-signer-js')
    try {
      return options.credentials
        ? await signer.generateAuthTokenFromCredentialsProvider({
            region: options.region,
            awsCredentialsProvider: options.credentials,
          })
        : await signer.generateAuthToken({ region: options.region })
    } catch (error) {
      throw new FactlibError(
        'KAFKA_AUTH',
        `could not sign an MSK IAM token for region ${options.region}: ${errorMessage(error)}. ` +
          `The relay needs AWS credentials (the ECS task role, or AWS_* variables) allowed ${mskIamActions(['connect'])}`,
        { cause: error, retriable: true },
      )
    }
  }
}

/**
 * The OAUTHBEARER token for `@platformatic/kafka`'s `sasl.token`: the client asks on every new connection and
 * on every re-authentication (at 80 % of the session lifetime the broker granted, which MSK caps at the
 * token's expiry), so the token is reused until `refreshBeforeMs` before it expires and signed again after.
 */
export function bearerTokenProvider(
  tokens: () => Promise<BearerToken>,
  { refreshBeforeMs = 60_000, now = Date.now }: { refreshBeforeMs?: number; now?: () => number } = {},
): () => Promise<string> {
  let cached: BearerToken | undefined
  let pending: Promise<BearerToken> | undefined
  return async () => {
    if (cached && cached.expiryTime - refreshBeforeMs > now()) return cached.token
    pending ??= tokens().finally(() => {
      pending = undefined
    })
    cached = await pending
    return cached.token
  }
}
