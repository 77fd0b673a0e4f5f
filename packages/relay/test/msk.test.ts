import type { GetBootstrapBrokersCommand, GetBootstrapBrokersCommandOutput } from '@aws-sdk/client-kafka'
import { describe, expect, test, vi } from 'vitest'
import { kafkaClientOptions } from '../src/sinks/kafka/client.js'
import { type BootstrapBrokersClient, mskBootstrapBrokers } from '../src/sinks/kafka/msk-brokers.js'
import {
  bearerTokenProvider,
  mskIamTokens,
  regionFromArn,
  signingRegion,
} from '../src/sinks/kafka/msk-iam.js'
import { plainConfig } from './support/sink.js'

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5'

describe('MSK IAM tokens, offline', () => {
  test('the signer turns static credentials into a presigned kafka-cluster:Connect URL valid for 15 minutes', async () => {
    const credentials = async () => ({
      accessKeyId: 'AKIDEXAMPLEEXAMPLE01',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      sessionToken: 'session-token-example',
    })
    const before = Date.now()
    const { token, expiryTime } = await mskIamTokens({ region: 'eu-west-1', credentials })()

    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    const url = new URL(Buffer.from(token, 'base64url').toString('utf8'))
    expect(url.origin).toBe('https://kafka.eu-west-1.amazonaws.com')
    const query = url.searchParams
    expect(query.get('Action')).toBe('kafka-cluster:Connect')
    expect(query.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256')
    expect(query.get('X-Amz-Credential')).toMatch(
      /^AKIDEXAMPLEEXAMPLE01\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
    )
    expect(query.get('X-Amz-Expires')).toBe('900')
    expect(query.get('X-Amz-SignedHeaders')).toBe('host')
    expect(query.get('X-Amz-Security-Token')).toBe('session-token-example')
    expect(query.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/)
    expect(query.get('User-Agent')).toMatch(/^aws-msk-iam-sasl-signer-js\//)
    const signedAt = Date.parse(
      (query.get('X-Amz-Date') ?? '').replace(
        /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
        '$1-$2-$3T$4:$5:$6Z',
      ),
    )
    expect(expiryTime).toBe(signedAt + 900_000)
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    expect(signedAt).toBeLessThanOrEqual(Date.now())
  })

  test('missing credentials become KAFKA_AUTH naming the region and the permission', async () => {
    const credentials = async () => ({ accessKeyId: '', secretAccessKey: '' })
    await expect(mskIamTokens({ region: 'us-east-2', credentials })()).rejects.toMatchObject({
      code: 'KAFKA_AUTH',
      message: expect.stringMatching(/us-east-2.*kafka-cluster:Connect/),
    })
  })

  test('the client gets the token as OAUTHBEARER, reused until a minute before it expires, then signed again', async () => {
    let now = 1_000_000
    const source = vi.fn(async () => ({
      token: `token-${source.mock.calls.length}`,
      expiryTime: now + 900_000,
    }))
    const provider = bearerTokenProvider(source, { now: () => now })
    const [first, concurrent] = await Promise.all([provider(), provider()])
    expect(first).toBe('token-1')
    expect(concurrent).toBe('token-1')
    now += 839_000
    expect(await provider()).toBe('token-1')
    // The client asks again on re-authentication, at 80 % of a session that ends with the token.
    now += 2_000
    expect(await provider()).toBe('token-2')
    expect(source).toHaveBeenCalledTimes(2)
  })

  test('the region comes from the cluster ARN', () => {
    expect(regionFromArn(ARN)).toBe('eu-west-1')
    expect(regionFromArn('arn:aws-us-gov:kafka:us-gov-west-1:123456789012:cluster/x/y')).toBe('us-gov-west-1')
  })

  test("the signing region: the ARN's, then the given one, then AWS_REGION, then AWS_DEFAULT_REGION", () => {
    const env = { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-west-2' }
    expect(signingRegion(ARN, 'ap-south-1', env)).toBe('eu-west-1')
    expect(signingRegion(undefined, 'ap-south-1', env)).toBe('ap-south-1')
    expect(signingRegion(undefined, undefined, env)).toBe('us-east-1')
    expect(signingRegion(undefined, undefined, { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-west-2' })).toBe(
      'us-west-2',
    )
    expect(signingRegion(undefined, undefined, {})).toBeUndefined()
    expect(signingRegion('not-an-arn', undefined, { AWS_REGION: 'us-east-1' })).toBe('us-east-1')
  })
})

describe('MSK bootstrap brokers from the cluster ARN', () => {
  const output = {
    BootstrapBrokerString: 'b-1.msk:9092,b-2.msk:9092',
    BootstrapBrokerStringTls: 'b-1.msk:9094,b-2.msk:9094',
    BootstrapBrokerStringSaslScram: 'b-1.msk:9096',
    BootstrapBrokerStringSaslIam: 'b-1.msk:9098, b-2.msk:9098',
    $metadata: {},
  } satisfies GetBootstrapBrokersCommandOutput
  const fakeClient = (answer: Partial<GetBootstrapBrokersCommandOutput> | Error) => {
    const inputs: unknown[] = []
    const client: BootstrapBrokersClient = {
      async send(command: GetBootstrapBrokersCommand) {
        inputs.push(command.input)
        if (answer instanceof Error) throw answer
        return { $metadata: {}, ...answer }
      },
    }
    return { client, inputs }
  }

  test.each([
    ['iam', true, ['b-1.msk:9098', 'b-2.msk:9098']],
    ['scram-sha-512', true, ['b-1.msk:9096']],
    [undefined, true, ['b-1.msk:9094', 'b-2.msk:9094']],
    [undefined, false, ['b-1.msk:9092', 'b-2.msk:9092']],
  ] as const)('sasl %s, tls %s → the matching broker string', async (sasl, tls, expected) => {
    const { client, inputs } = fakeClient(output)
    expect(await mskBootstrapBrokers({ clusterArn: ARN, sasl, tls }, client)).toEqual(expected)
    expect(inputs).toEqual([{ ClusterArn: ARN }])
  })

  test('a cluster without the needed access method, or a refused lookup, fails saying what to change', async () => {
    const { client } = fakeClient({ BootstrapBrokerStringTls: 'b-1.msk:9094' })
    await expect(
      mskBootstrapBrokers({ clusterArn: ARN, sasl: 'iam', tls: true }, client),
    ).rejects.toMatchObject({
      code: 'KAFKA_BROKERS_LOOKUP',
      message: expect.stringContaining('no SASL/IAM bootstrap brokers'),
    })
    const denied = fakeClient(
      Object.assign(new Error('User is not authorized'), { name: 'ForbiddenException' }),
    )
    await expect(
      mskBootstrapBrokers({ clusterArn: ARN, sasl: 'iam', tls: true }, denied.client),
    ).rejects.toMatchObject({
      code: 'KAFKA_BROKERS_LOOKUP',
      message: expect.stringContaining('kafka:GetBootstrapBrokers'),
    })
  })

  test('the client uses looked-up brokers when none are configured', async () => {
    const { client, inputs } = fakeClient(output)
    const config = { ...plainConfig([]), clusterArn: ARN, sasl: 'iam' as const, tls: true }
    const { brokers, options } = await kafkaClientOptions(config, { bootstrapBrokersClient: client })
    expect(brokers).toEqual(['b-1.msk:9098', 'b-2.msk:9098'])
    expect(options.bootstrapBrokers).toEqual(brokers)
    expect(inputs).toHaveLength(1)
  })
})
