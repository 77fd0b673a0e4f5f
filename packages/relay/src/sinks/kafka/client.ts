import { isIP } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import { FactlibError } from '@factlib/emit'
import type { BaseOptions, SASLOptions } from '@platformatic/kafka'
import type { KafkaConfig } from '../../config/config.js'
import { type BootstrapBrokersClient, mskBootstrapBrokers } from './msk-brokers.js'
import { type BearerToken, bearerTokenProvider, mskIamTokens, signingRegion } from './msk-iam.js'

/** How the sink reaches Kafka, beyond {@link KafkaConfig}. */
export interface KafkaClientOptions {
  /** @default 'factlib-relay' */
  clientId?: string
  /** TLS options when `tls` is on, e.g. `{ ca }` for a private CA (or set NODE_EXTRA_CA_CERTS). */
  tlsOptions?: ConnectionOptions
  /** Token source for `sasl: 'iam'`. @default MSK IAM tokens signed with the default AWS credential chain */
  iamTokens?: () => Promise<BearerToken>
  /** Region for IAM signing when there is no cluster ARN. @default AWS_REGION, then AWS_DEFAULT_REGION */
  awsRegion?: string
  /** Client for the MSK bootstrap-broker lookup (tests). */
  bootstrapBrokersClient?: BootstrapBrokersClient
  /** @default 3000 */
  connectionTimeoutMs?: number
  /**
   * How long the client waits for any answer before it drops the connection: what notices a broker link
   * that went silent without closing. Keep it above the sink's `produceTimeoutMs`, the broker's own wait
   * for replicas. @default the config's `requestTimeoutMs` (KAFKA_REQUEST_TIMEOUT), else 15_000
   */
  requestTimeoutMs?: number
}

/**
 * The `@platformatic/kafka` options every client of the relay shares (producer, admin, doctor's checks):
 * brokers (looked up from the MSK cluster ARN when none are given), TLS with SNI, SASL PLAIN/SCRAM, or MSK
 * IAM as OAUTHBEARER with a token that is signed again before it expires. The client's own retries are the
 * caller's to set: the sink retries without end around short ones.
 *
 * @example
 * ```ts
 * const { options, brokers } = await kafkaClientOptions(config.sink, {})
 * const admin = new Admin({ ...options, retries: 1 })
 * ```
 */
export async function kafkaClientOptions(
  config: KafkaConfig,
  options: KafkaClientOptions,
): Promise<{ options: BaseOptions; brokers: string[] }> {
  const brokers = config.brokers.length
    ? config.brokers
    : config.clusterArn
      ? await mskBootstrapBrokers(
          { clusterArn: config.clusterArn, sasl: config.sasl, tls: config.tls },
          options.bootstrapBrokersClient,
        )
      : []
  if (brokers.length === 0)
    throw new FactlibError('CONFIG_INVALID', 'the Kafka sink needs KAFKA_BROKERS or KAFKA_CLUSTER_ARN')
  const client: BaseOptions = {
    clientId: options.clientId ?? 'factlib-relay',
    bootstrapBrokers: brokers,
    connectTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? config.requestTimeoutMs ?? 15_000,
    ...(config.tls
      ? // SNI by broker host name, as MSK needs; never for an address, which TLS does not allow as a name.
        { tls: options.tlsOptions ?? {}, tlsServerName: brokers.some((broker) => !isIP(hostOf(broker))) }
      : {}),
    ...(config.sasl ? { sasl: saslOptions(config, options) } : {}),
  }
  return { options: client, brokers }
}

function hostOf(broker: string): string {
  return broker.slice(0, broker.lastIndexOf(':')).replace(/^\[|\]$/g, '')
}

function saslOptions(config: KafkaConfig, options: KafkaClientOptions): SASLOptions {
  const { sasl, username = '', password = '' } = config
  switch (sasl) {
    case 'plain':
      return { mechanism: 'PLAIN', username, password }
    case 'scram-sha-256':
      return { mechanism: 'SCRAM-SHA-256', username, password }
    case 'scram-sha-512':
      return { mechanism: 'SCRAM-SHA-512', username, password }
    case 'iam': {
      let tokens = options.iamTokens
      if (!tokens) {
        const region = signingRegion(config.clusterArn, options.awsRegion)
        if (!region)
          throw new FactlibError(
            'CONFIG_INVALID',
            'KAFKA_SASL=iam needs the AWS region to sign with: set KAFKA_CLUSTER_ARN or AWS_REGION',
          )
        tokens = mskIamTokens({ region })
      }
      return { mechanism: 'OAUTHBEARER', token: bearerTokenProvider(tokens) }
    }
    default:
      throw new FactlibError('CONFIG_INVALID', `unknown KAFKA_SASL ${JSON.stringify(sasl)}`)
  }
}
