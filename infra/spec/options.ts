import type { ConfigVariable } from '@factlib/relay/config'
import type { ScheduleOptions } from './schedule.js'

/** Task sizes Fargate offers for the relay (CPU units; 1024 = 1 vCPU). */
export type FargateCpu = 256 | 512 | 1024 | 2048 | 4096

/**
 * Where the relay produces. `V` is the type of values only known at deploy time (a CDK token is a
 * `string`; Pulumi passes `Input<string>`).
 *
 * - MSK with IAM auth: the cluster ARN, and its bootstrap brokers when known (otherwise the relay looks them
 *   up by ARN, which needs `kafka:GetBootstrapBrokers`).
 * - Any other Kafka reachable without authentication: a comma list of `host:port` brokers.
 */
export type KafkaTarget<V = string> =
  | { kind: 'msk-iam'; clusterArn: V; bootstrapBrokers?: V }
  | { kind: 'brokers'; brokers: V; tls?: boolean }

/** Thresholds and evaluation windows of the alarms; every field has a default. */
export interface AlarmOptions {
  /** Slot lag that pages, in bytes of WAL the slot holds. @default 1 GiB */
  slotLagBytes?: number
  /** Slot lag that pages, in seconds since the oldest unconfirmed commit. @default 300; schedule mode: 2 intervals */
  slotLagSeconds?: number
  /**
   * Lag alarms fire when `datapointsToAlarm` of the last `evaluationPeriods` periods breach. @default 3 of 5
   * minutes; schedule mode: 2 of 3 intervals (fewer when 3 intervals exceed CloudWatch's one-day window)
   */
  lag?: { datapointsToAlarm: number; evaluationPeriods: number }
  /** Service mode: periods without a heartbeat before the heartbeat alarm fires. @default 3 */
  heartbeatMissingPeriods?: number
  /** Backstop on the database's own `OldestReplicationSlotLag`, bytes. @default 4 × slotLagBytes */
  databaseSlotLagBytes?: number
  /** Backstop on the database's `TransactionLogsDiskUsage` (WAL on disk), bytes. @default 10 GiB */
  databaseWalDiskBytes?: number
}

/**
 * Everything a deployment of the relay can choose. Both front-ends (SST and CDK) take these options and
 * build the same {@link RelaySpec} from them.
 *
 * @example
 * ```ts
 * const options: RelayDeploymentOptions = {
 *   name: 'factlib-relay-prod',
 *   slot: 'orders',
 *   sources: ['orders'],
 *   kafka: { kind: 'msk-iam', clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/facts/abc' },
 *   database: { instanceIdentifier: 'orders-db' },
 * }
 * ```
 */
export interface RelayDeploymentOptions<V = string> {
  /** Prefix of alarm, dashboard, topic and log group names; unique per account and region. @default 'factlib-relay' */
  name?: string
  /**
   * `service`: an always-on Fargate task streaming the slot. `schedule`: a Lambda function draining the slot
   * on an EventBridge schedule (see {@link ScheduleOptions}). Both share the settings, alarms and dashboard.
   * @default 'service'
   */
  mode?: 'service' | 'schedule'
  /** Schedule mode's interval, timeout and memory; checked against the database (see `databaseHost`). */
  schedule?: ScheduleOptions
  /**
   * The database's host name (not secret), when known: a Neon host (`*.neon.tech`) gets a 15-minute default
   * interval and refuses one of 5 minutes or less; a `-pooler` host is refused.
   */
  databaseHost?: string
  /** Replication slot (`FACTLIB_SLOT`); also the `Slot` dimension of every metric. @default 'factlib' */
  slot?: string
  /** Publication (`FACTLIB_PUBLICATION`). @default 'factlib' */
  publication?: string
  /** Sources to relay (`FACTLIB_SOURCES`); also narrows the topics IAM allows. @default all */
  sources?: string[]
  /** Topic template (`FACTLIB_TOPIC`). @default '{source}.{aggregateType}' */
  topic?: string
  /** Partitions of topics the relay creates (`FACTLIB_TOPIC_PARTITIONS`). @default 6 */
  topicPartitions?: number
  /** Dead-letter topic (`FACTLIB_DLQ_TOPIC`). @default 'factlib.dlq' */
  dlqTopic?: string
  kafka: KafkaTarget<V>
  /** @default 512 (0.5 vCPU) */
  cpu?: FargateCpu
  /** @default 1024 */
  memoryMiB?: number
  /**
   * Run a second task as a hot standby: it waits on the slot and takes over within seconds when the
   * active relay dies. @default false
   */
  standby?: boolean
  /** Seconds the relay has to finish in-flight work on SIGTERM (`FACTLIB_SHUTDOWN_TIMEOUT`). @default 25 */
  shutdownTimeoutSeconds?: number
  /** CloudWatch namespace of the relay's metrics. @default 'Factlib' */
  metricsNamespace?: string
  /** Seconds between EMF lines; alarm periods follow it (rounded up to whole minutes). @default 60 */
  metricsIntervalSeconds?: number
  /** RDS or Aurora instance the slot lives on (for Aurora, the writer instance): adds the backstop alarms. */
  database?: { instanceIdentifier: string }
  alarms?: AlarmOptions
  /** @default 30 */
  logRetentionDays?: number
  /**
   * More relay settings, e.g. `FACTLIB_CREATE_SLOT`, checked by the relay's parser like all the others. The
   * ones the deployment relies on win: sink and Kafka, HTTP port, metrics, shutdown timeout.
   */
  environment?: Partial<Record<ConfigVariable, string>>
}
