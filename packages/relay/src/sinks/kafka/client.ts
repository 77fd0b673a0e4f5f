import { connect as connectTcp, isIP } from 'node:net'
import { type ConnectionOptions, connect as connectTls } from 'node:tls'
import { FactlibError } from '@factlib/emit'
import {
  type ISocketFactory,
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  type LogEntry,
  type logCreator,
  logLevel,
  type SASLOptions,
} from 'kafkajs'
import type { KafkaConfig } from '../../config/config.js'
import type { Logger } from '../../observability/log.js'
import { RateLimit } from '../../util/rate-limit.js'
import { kafkaErrorType, rootCause } from './errors.js'
import { type BootstrapBrokersClient, mskBootstrapBrokers } from './msk-brokers.js'
import { type BearerToken, mskIamTokens, oauthBearerProvider, signingRegion } from './msk-iam.js'

/** How the sink reaches Kafka, beyond {@link KafkaConfig}. */
export interface KafkaClientOptions {
  log: Logger
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
   * How long kafkajs waits for any answer; an abort waits at most this long for the attempt under way.
   * Keep it above the sink's `produceTimeoutMs`. @default 15_000
   */
  requestTimeoutMs?: number
}

/**
 * The kafkajs client settings for the configuration: brokers (looked up from the MSK cluster ARN when none
 * are given), TLS, SASL PLAIN/SCRAM, or MSK IAM as OAUTHBEARER. kafkajs' own retries are kept short: the
 * sink retries without end around them, where an abort can stop it.
 *
 * @example
 * ```ts
 * const { settings, brokers } = await kafkaClientSettings(config.sink, { log })
 * const kafka = new Kafka(settings)
 * ```
 */
export async function kafkaClientSettings(
  config: KafkaConfig,
  options: KafkaClientOptions,
): Promise<{ settings: KafkaJsConfig; brokers: string[] }> {
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
  const settings: KafkaJsConfig = {
    clientId: options.clientId ?? 'factlib-relay',
    brokers,
    ssl: config.tls ? (options.tlsOptions ?? true) : false,
    ...(config.sasl ? { sasl: saslOptions(config, options) } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 15_000,
    retry: { retries: 0, initialRetryTime: 100, maxRetryTime: 1_000 },
    logLevel: logLevel.INFO,
    logCreator: kafkajsLogCreator(options.log),
    socketFactory: noDelaySocket,
  }
  return { settings, brokers }
}

/**
 * kafkajs' own sockets keep Nagle's algorithm on: the tail of a produce request can then wait for the
 * broker's delayed ACK (up to 40 ms on Linux) before it is sent, which showed as tens of milliseconds of
 * end-to-end p99 at 1,000 facts/s. Same sockets otherwise (keep-alive, TLS with SNI).
 */
const noDelaySocket: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? connectTls(
        { host, port, ...(isIP(host) ? {} : { servername: host }), ...(ssl as ConnectionOptions) },
        onConnect,
      )
    : connectTcp({ host, port }, onConnect)
  socket.setNoDelay(true)
  socket.setKeepAlive(true, 60_000)
  return socket
}

/** A kafkajs client from {@link kafkaClientSettings}. */
export async function createKafkaClient(
  config: KafkaConfig,
  options: KafkaClientOptions,
): Promise<{ kafka: Kafka; brokers: string[] }> {
  const { settings, brokers } = await kafkaClientSettings(config, options)
  return { kafka: new Kafka(settings), brokers }
}

function saslOptions(config: KafkaConfig, options: KafkaClientOptions): SASLOptions {
  const { sasl, username = '', password = '' } = config
  switch (sasl) {
    case 'plain':
      return { mechanism: 'plain', username, password }
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password }
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password }
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
      return { mechanism: 'oauthbearer', oauthBearerProvider: oauthBearerProvider(tokens) }
    }
    default:
      throw new FactlibError('CONFIG_INVALID', `unknown KAFKA_SASL ${JSON.stringify(sasl)}`)
  }
}

/**
 * Routes kafkajs' log into the relay's JSON logger. kafkajs logs every failed connection as an error; the
 * sink logs each failure itself, so kafkajs' errors become warnings, held back to one per message per 10 s.
 */
export function kafkajsLogCreator(log: Logger): logCreator {
  const limit = new RateLimit(10_000)
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry
      const scoped = { component: 'kafkajs', ...(namespace ? { namespace } : {}), ...fields }
      // The sink retries without end around kafkajs' short retries, with the same producer: the EoS warning does not apply.
      if (message.startsWith('Limiting retries for the idempotent producer'))
        return log.debug(message, scoped)
      if (level >= logLevel.INFO)
        return level === logLevel.INFO ? log.info(message, scoped) : log.debug(message, scoped)
      const suppressed = limit.take(`${namespace}:${message}`)
      if (suppressed !== undefined) log.warn(message, suppressed ? { ...scoped, suppressed } : scoped)
    }
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * The error `start()` throws when Kafka cannot be reached or refuses the relay: what failed, where, and
 * what to change. Never includes the password.
 */
export function connectFailure(
  error: unknown,
  config: KafkaConfig,
  brokers: string[],
  waitedMs: number,
): FactlibError {
  let inner = error
  for (let depth = 0; depth < 8 && inner instanceof Error; depth++, inner = inner.cause)
    if (inner instanceof FactlibError) return inner
  const root = rootCause(error)
  const type = kafkaErrorType(root)
  const detail = redact(root instanceof Error ? root.message : String(root), config.password)
  const where = brokers.length ? brokers.join(',') : (config.clusterArn ?? '(no brokers)')
  const name = root instanceof Error ? root.name : ''
  if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED') {
    const who =
      config.sasl === 'iam'
        ? 'MSK IAM: check the relay role may kafka-cluster:Connect to the cluster and the region is the cluster’s'
        : `check KAFKA_USERNAME (${JSON.stringify(config.username)}), KAFKA_PASSWORD and that KAFKA_SASL=${config.sasl} is a mechanism the listener enables`
    return new FactlibError(
      'KAFKA_AUTH',
      `Kafka at ${where} refused SASL authentication: ${detail}. ${who}`,
      {
        cause: error,
      },
    )
  }
  if (type === 'CLUSTER_AUTHORIZATION_FAILED' || type === 'TOPIC_AUTHORIZATION_FAILED')
    return new FactlibError(
      'KAFKA_AUTH',
      `Kafka at ${where} does not allow this principal to produce idempotently (${type}): grant WRITE on the ` +
        'topics and IDEMPOTENT_WRITE on the cluster (MSK IAM: kafka-cluster:WriteData, kafka-cluster:WriteDataIdempotently)',
      { cause: error },
    )
  const code = (root as { code?: unknown } | null)?.code
  let hint: string
  if (typeof code === 'string' && TLS_TRUST_CODES.has(code))
    hint =
      "the broker's TLS certificate is not trusted by this process: give the CA with NODE_EXTRA_CA_CERTS, or check the host name"
  else if (typeof code === 'string' && (code === 'EPROTO' || code.startsWith('ERR_SSL')))
    hint = 'the listener does not speak TLS: use its TLS port or set KAFKA_TLS=false'
  else
    hint =
      `check KAFKA_BROKERS (host:port of bootstrap brokers; MSK ports: 9092 plaintext, 9094 TLS, 9096 SASL/SCRAM, 9098 IAM), ` +
      `that the network allows the relay to reach them, and that KAFKA_TLS (${config.tls ? 'on' : 'off'}) ` +
      `and KAFKA_SASL (${config.sasl ?? 'none'}) match the listener`
  return new FactlibError(
    'KAFKA_UNREACHABLE',
    `Kafka is unreachable at ${where} after ${Math.round(waitedMs / 100) / 10} s (${detail}): ${hint}`,
    { cause: error, retriable: true },
  )
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, '***') : text
}
