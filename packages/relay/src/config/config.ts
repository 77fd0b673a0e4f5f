// Over 300 lines on purpose: the one place every setting is declared with its documentation and default
// (CONFIG_VARIABLES, which --help, the README and the infra spec read) and parsed with its rule.
import { FactlibError } from '@factlib/emit'
import type { LogLevel } from '../observability/log.js'
import { DEFAULT_METRICS_NAMESPACE } from '../observability/metric-names.js'
import { invalidTopicReason, TOPIC_NAME_RULE } from '../pipeline/topic.js'

// Part of the deployment contract: infra gives a Lambda relay this NODE_OPTIONS.
export { RELAY_HEAP_FLAGS, RELAY_NODE_OPTIONS } from '../util/heap-flags.js'

/** The levels `FACTLIB_LOG_LEVEL` accepts, least to most severe. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[]

/** How the relay authenticates to Kafka. */
export type KafkaSasl = 'iam' | 'plain' | 'scram-sha-256' | 'scram-sha-512'

/** The codecs `KAFKA_COMPRESSION` accepts; `none` first, the default. */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

/** How the relay compresses the record batches it produces. */
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number]

export interface KafkaConfig {
  kind: 'kafka'
  /** Bootstrap brokers; when empty they are looked up from {@link KafkaConfig.clusterArn}. */
  brokers: string[]
  clusterArn: string | undefined
  sasl: KafkaSasl | undefined
  username: string | undefined
  password: string | undefined
  tls: boolean
  /** Codec of the record batches the relay produces (`KAFKA_COMPRESSION`). */
  compression: KafkaCompression
  /**
   * How long the client waits for a broker's answer before it drops the connection and retries through a
   * new one (`KAFKA_REQUEST_TIMEOUT`): what detects a broker link that went silent. @default 15_000
   */
  requestTimeoutMs?: number
}

/** `custom`: a program passes its own {@link Sink} to `startRelay`; the `factlib` command has none. */
export type SinkConfig = KafkaConfig | { kind: 'stdout' } | { kind: 'custom' }

/** Everything `factlib relay` is configured with, parsed and checked in one place. */
export interface RelayConfig {
  databaseUrl: string
  slot: string
  publication: string
  /** Sources (WAL message prefixes) to relay; `undefined` relays all. */
  sources: string[] | undefined
  sink: SinkConfig
  /** Topic template with `{source}` and `{aggregateType}`. */
  topic: string
  topicPartitions: number
  dlqTopic: string
  httpPort: number
  metrics: 'prometheus' | 'emf'
  metricsNamespace: string
  metricsIntervalSeconds: number
  createSlot: 'true' | 'false' | 'force'
  /** Create the slot with failover (PostgreSQL 17+) and turn it on for an existing slot. */
  slotFailover: boolean
  maxInflightBytes: number
  /**
   * A replication session that received nothing from the server for this long while reading is ended and
   * made again (`FACTLIB_REPLICATION_TIMEOUT`): a network that went silent without closing.
   */
  replicationTimeoutMs: number
  shutdownTimeoutMs: number
  /** A batch the sink has not acknowledged for longer than this makes the relay not ready (stalled). */
  stallSeconds: number
  /** Log lines below this level are dropped. */
  logLevel: LogLevel
  /**
   * Bounds of one drain run (`factlib relay --drain`, the Lambda entry point): stop reading after this many
   * seconds or facts, finish and confirm what is in flight. `undefined`: unbounded.
   */
  drainMaxSeconds?: number
  drainMaxFacts?: number
}

/**
 * Every environment variable of the configuration contract with its default and meaning, in the order the
 * docs list them. Each has a flag: the name without `FACTLIB_`, lower-case, `_` → `-` (`--slot`,
 * `--kafka-brokers`, `--database-url`). Flags win over the environment; an empty variable counts as unset.
 */
export const CONFIG_VARIABLES = {
  DATABASE_URL: { default: undefined, doc: 'PostgreSQL URL (required); honours sslmode' },
  FACTLIB_SLOT: { default: 'factlib', doc: 'logical replication slot' },
  FACTLIB_PUBLICATION: { default: 'factlib', doc: 'publication the slot streams' },
  FACTLIB_SOURCES: {
    default: undefined,
    doc: "comma list of sources to relay (default: every envelope; other tools' messages are skipped)",
  },
  FACTLIB_SINK: {
    default: undefined,
    doc: '`kafka`, `stdout`, or `custom` (a sink object a program passes to startRelay); default kafka when brokers or a cluster ARN is set',
  },
  KAFKA_BROKERS: { default: undefined, doc: 'comma list of bootstrap brokers' },
  KAFKA_CLUSTER_ARN: {
    default: undefined,
    doc: 'MSK cluster ARN; brokers are looked up when KAFKA_BROKERS is unset',
  },
  KAFKA_SASL: { default: undefined, doc: '`iam`, `plain`, `scram-sha-256`, `scram-sha-512`, or unset' },
  KAFKA_USERNAME: { default: undefined, doc: 'SASL username (plain, scram)' },
  KAFKA_PASSWORD: { default: undefined, doc: 'SASL password (plain, scram)' },
  KAFKA_TLS: { default: undefined, doc: '`true`/`false`; default on with SASL, off without' },
  KAFKA_COMPRESSION: {
    default: 'none',
    doc:
      '`none`, `gzip`, `snappy`, `lz4`, `zstd`; every consumer reads `none`, kafkajs consumers read only ' +
      '`gzip` without codec plugins',
  },
  KAFKA_REQUEST_TIMEOUT: {
    default: '15',
    doc: 'seconds to wait for a broker to answer before the connection is dropped and the request retried (2–300)',
  },
  FACTLIB_TOPIC: { default: '{source}.{aggregateType}', doc: 'topic template' },
  FACTLIB_TOPIC_PARTITIONS: { default: '6', doc: 'partitions of topics the relay creates' },
  FACTLIB_DLQ_TOPIC: { default: 'factlib.dlq', doc: 'dead-letter topic' },
  FACTLIB_HTTP_PORT: { default: '8080', doc: '/healthz, /readyz, /metrics' },
  FACTLIB_METRICS: {
    default: 'prometheus',
    doc: '`prometheus` or `emf` (CloudWatch embedded metric format on stdout)',
  },
  FACTLIB_METRICS_NAMESPACE: { default: DEFAULT_METRICS_NAMESPACE, doc: 'CloudWatch namespace for EMF' },
  FACTLIB_METRICS_INTERVAL: { default: '60', doc: 'seconds between EMF lines' },
  FACTLIB_CREATE_SLOT: {
    default: 'true',
    doc: '`true`, `false` (never create), `force` (recreate a lost slot)',
  },
  FACTLIB_SLOT_FAILOVER: {
    default: 'true',
    doc: '`true`: the slot is synchronized to standbys (PostgreSQL 17+, failover = true); `false`: never',
  },
  FACTLIB_MAX_INFLIGHT_BYTES: {
    default: String(24 * 1024 * 1024),
    doc: 'memory for facts read but not yet acknowledged (their record bytes plus ~4 KiB each)',
  },
  FACTLIB_REPLICATION_TIMEOUT: {
    default: '30',
    doc:
      'seconds without anything from PostgreSQL (data or keepalive) before the relay drops the replication ' +
      'connection and reconnects: a network gone silent (1–3600; status updates ask for a reply)',
  },
  FACTLIB_SHUTDOWN_TIMEOUT: { default: '25', doc: 'seconds to finish in-flight work on SIGTERM' },
  FACTLIB_STALL_SECONDS: {
    default: '120',
    doc: 'seconds a batch may wait for the sink to acknowledge it before the relay reports a stall (not ready)',
  },
  FACTLIB_LOG_LEVEL: { default: 'info', doc: `${LOG_LEVELS.join(', ')}; JSON lines on stderr` },
  FACTLIB_DRAIN_MAX_SECONDS: {
    default: undefined,
    doc: 'with --drain (and in Lambda): stop reading after this many seconds, confirm what is in flight (1–86400)',
  },
  FACTLIB_DRAIN_MAX_FACTS: {
    default: undefined,
    doc: 'with --drain (and in Lambda): stop reading at the first commit after this many facts (1–10^12)',
  },
} as const satisfies Record<string, { default: string | undefined; doc: string }>

export type ConfigVariable = keyof typeof CONFIG_VARIABLES

/**
 * The command-line flag for a variable: `FACTLIB_SLOT` → `slot`, `KAFKA_BROKERS` → `kafka-brokers`; the
 * drain bounds `FACTLIB_DRAIN_MAX_SECONDS` and `FACTLIB_DRAIN_MAX_FACTS` are `max-seconds` and `max-facts`.
 */
export function flagName(variable: ConfigVariable): string {
  // A drain's bounds read as `factlib relay --drain --max-seconds 60 --max-facts 1000`.
  if (variable === 'FACTLIB_DRAIN_MAX_SECONDS') return 'max-seconds'
  if (variable === 'FACTLIB_DRAIN_MAX_FACTS') return 'max-facts'
  return variable
    .replace(/^FACTLIB_/, '')
    .toLowerCase()
    .replaceAll('_', '-')
}

/** Thrown for invalid configuration; the message names the variable (and flag) and says what is expected. */
export class ConfigError extends FactlibError {
  override readonly name = 'ConfigError'
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super('CONFIG_INVALID', message)
  }
}

/**
 * Parse the relay's configuration from flags (already split into `name → value`) and the environment.
 *
 * @example
 * ```ts
 * const config = parseConfig(process.env, { slot: 'orders' })
 * ```
 */
export function parseConfig(
  env: Record<string, string | undefined>,
  flags: Record<string, string | undefined> = {},
): RelayConfig {
  const get = (variable: ConfigVariable): string | undefined => {
    const value = flags[flagName(variable)] ?? env[variable]
    return value === undefined || value.trim() === '' ? CONFIG_VARIABLES[variable].default : value.trim()
  }
  const fail = (variable: ConfigVariable, expected: string, value?: string): never => {
    const shown = value === undefined ? 'is not set' : `is ${JSON.stringify(value)}`
    throw new ConfigError(variable, `${variable} (--${flagName(variable)}) ${shown}; ${expected}`)
  }
  const required = (variable: ConfigVariable, expected: string): string =>
    get(variable) ?? fail(variable, expected)
  const oneOf = <T extends string>(variable: ConfigVariable, allowed: readonly T[]): T | undefined => {
    const value = get(variable)
    if (value === undefined) return undefined
    if (!(allowed as readonly string[]).includes(value))
      fail(variable, `expected one of: ${allowed.join(', ')}`, value)
    return value as T
  }
  const integer = (variable: ConfigVariable, min: number, max: number): number => {
    const value = required(variable, `expected an integer from ${min} to ${max}`)
    const number = Number(value)
    if (!Number.isInteger(number) || number < min || number > max)
      fail(variable, `expected an integer from ${min} to ${max}`, value)
    return number
  }
  const optionalInteger = (variable: ConfigVariable, min: number, max: number): number | undefined =>
    get(variable) === undefined ? undefined : integer(variable, min, max)
  const list = (variable: ConfigVariable): string[] =>
    (get(variable) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  const boolean = (variable: ConfigVariable): boolean | undefined => {
    const value = oneOf(variable, ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'] as const)
    return value === undefined ? undefined : ['true', '1', 'yes', 'on'].includes(value)
  }

  const databaseUrl = required(
    'DATABASE_URL',
    'set it to a postgres:// URL, e.g. postgres://relay@db:5432/app',
  )
  if (!/^postgres(ql)?:\/\//.test(databaseUrl) || !URL.canParse(databaseUrl))
    fail('DATABASE_URL', 'expected a postgres:// or postgresql:// URL', redactUrl(databaseUrl))

  const identifier = (variable: ConfigVariable): string => {
    const value = required(variable, 'expected a name')
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
      fail(
        variable,
        'expected lower-case letters, digits and _ (at most 63, not starting with a digit)',
        value,
      )
    return value
  }

  const brokers = list('KAFKA_BROKERS')
  for (const broker of brokers)
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) fail('KAFKA_BROKERS', 'expected host:port[,host:port...]', broker)
  const clusterArn = get('KAFKA_CLUSTER_ARN')
  if (clusterArn !== undefined && !/^arn:aws[\w-]*:kafka:[\w-]+:\d{12}:cluster\/.+/.test(clusterArn))
    fail(
      'KAFKA_CLUSTER_ARN',
      'expected an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<id>)',
      clusterArn,
    )
  const sinkKind =
    oneOf('FACTLIB_SINK', ['kafka', 'stdout', 'custom'] as const) ??
    (brokers.length || clusterArn
      ? 'kafka'
      : fail('FACTLIB_SINK', 'set KAFKA_BROKERS (or KAFKA_CLUSTER_ARN) for Kafka, or FACTLIB_SINK=stdout'))
  let sink: SinkConfig = { kind: sinkKind === 'custom' ? 'custom' : 'stdout' }
  if (sinkKind === 'kafka') {
    if (!brokers.length && !clusterArn)
      fail('KAFKA_BROKERS', 'the kafka sink needs KAFKA_BROKERS or KAFKA_CLUSTER_ARN')
    const sasl = oneOf('KAFKA_SASL', ['iam', 'plain', 'scram-sha-256', 'scram-sha-512'] as const)
    const username = get('KAFKA_USERNAME')
    const password = get('KAFKA_PASSWORD')
    if ((sasl === 'plain' || sasl?.startsWith('scram')) && (!username || !password))
      fail(
        username ? 'KAFKA_PASSWORD' : 'KAFKA_USERNAME',
        `KAFKA_SASL=${sasl} needs KAFKA_USERNAME and KAFKA_PASSWORD`,
      )
    sink = {
      kind: 'kafka',
      brokers,
      clusterArn,
      sasl,
      username,
      password,
      tls: boolean('KAFKA_TLS') ?? sasl !== undefined,
      compression: oneOf('KAFKA_COMPRESSION', KAFKA_COMPRESSIONS) ?? 'none',
      requestTimeoutMs: integer('KAFKA_REQUEST_TIMEOUT', 2, 300) * 1000,
    }
  }

  const sources = get('FACTLIB_SOURCES') === undefined ? undefined : list('FACTLIB_SOURCES')
  for (const source of sources ?? [])
    if (!/^[a-zA-Z0-9._-]{1,100}$/.test(source))
      fail('FACTLIB_SOURCES', 'expected sources of [a-zA-Z0-9._-]{1,100}', source)

  const topic = required('FACTLIB_TOPIC', 'expected a topic template')
  if (!/^([a-zA-Z0-9._-]|\{source\}|\{aggregateType\})+$/.test(topic))
    fail('FACTLIB_TOPIC', 'expected [a-zA-Z0-9._-] and the placeholders {source} and {aggregateType}', topic)
  const dlqTopic = required('FACTLIB_DLQ_TOPIC', 'expected a topic name')
  if (invalidTopicReason(dlqTopic) !== undefined)
    fail('FACTLIB_DLQ_TOPIC', `expected ${TOPIC_NAME_RULE}`, dlqTopic)

  return {
    databaseUrl,
    slot: identifier('FACTLIB_SLOT'),
    publication: identifier('FACTLIB_PUBLICATION'),
    sources,
    sink,
    topic,
    topicPartitions: integer('FACTLIB_TOPIC_PARTITIONS', 1, 10_000),
    dlqTopic,
    httpPort: integer('FACTLIB_HTTP_PORT', 0, 65_535),
    metrics: oneOf('FACTLIB_METRICS', ['prometheus', 'emf'] as const) ?? 'prometheus',
    metricsNamespace: required('FACTLIB_METRICS_NAMESPACE', 'expected a CloudWatch namespace'),
    metricsIntervalSeconds: integer('FACTLIB_METRICS_INTERVAL', 1, 3600),
    createSlot: oneOf('FACTLIB_CREATE_SLOT', ['true', 'false', 'force'] as const) ?? 'true',
    slotFailover: boolean('FACTLIB_SLOT_FAILOVER') ?? true,
    maxInflightBytes: integer('FACTLIB_MAX_INFLIGHT_BYTES', 1024 * 1024, 2 ** 40),
    replicationTimeoutMs: integer('FACTLIB_REPLICATION_TIMEOUT', 1, 3600) * 1000,
    shutdownTimeoutMs: integer('FACTLIB_SHUTDOWN_TIMEOUT', 1, 3600) * 1000,
    stallSeconds: integer('FACTLIB_STALL_SECONDS', 1, 86_400),
    logLevel: oneOf('FACTLIB_LOG_LEVEL', LOG_LEVELS) ?? 'info',
    drainMaxSeconds: optionalInteger('FACTLIB_DRAIN_MAX_SECONDS', 1, 86_400),
    drainMaxFacts: optionalInteger('FACTLIB_DRAIN_MAX_FACTS', 1, 1e12),
  }
}

/** The URL with its password replaced by `***`, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return url.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@')
  }
}
