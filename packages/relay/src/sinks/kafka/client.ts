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
