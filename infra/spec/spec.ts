import { type ConfigVariable, parseConfig, type RelayConfig } from '@factlib/relay/config'
import { type AlarmSpec, relayAlarms } from './alarms.js'
import { type ContainerSpec, healthCheckCommand, type ServiceSpec, validMemory } from './container.js'
import { kafkaEnvironment, type MskStatement, mskStatements, topicPatterns } from './kafka.js'
import { DEFAULT_METRICS_NAMESPACE, METRIC_DIMENSION, RELAY_METRICS } from './metrics.js'
import type { KafkaTarget, RelayDeploymentOptions } from './options.js'
import { checkDatabaseHost, type ScheduleSpec, scheduleSpec } from './schedule.js'

/**
 * The whole deployment of one relay as plain data: container, service, IAM, metrics, alarms and dashboard.
 * The SST and CDK front-ends only translate it into resources; neither decides anything on its own.
 */
export interface RelaySpec<V = string> {
  name: string
  slot: string
  /** `service`: `container` and `service` run on Fargate. `schedule`: `schedule` runs on Lambda. */
  mode: 'service' | 'schedule'
  container: ContainerSpec<V>
  service: ServiceSpec
  /** Schedule mode only: the function and its schedule, with the container's settings. */
  schedule: ScheduleSpec<V> | undefined
  kafka: KafkaTarget<V>
  /** Task-role statements for MSK (empty for plain brokers). */
  iam: MskStatement[]
  metrics: {
    namespace: string
    /** `{ Slot: <slot> }`, the one dimension of every relay metric. */
    dimensions: Record<string, string>
    names: typeof RELAY_METRICS
    intervalSeconds: number
    /**
     * The period of every relay alarm and graph: the EMF interval rounded up to whole minutes; in schedule
     * mode the schedule's interval (the relay reports only while a run lasts).
     */
    periodSeconds: number
  }
  alarms: AlarmSpec[]
  /** The SNS topic the alarms notify. */
  alarmTopicName: string
  dashboardName: string
  database: { instanceIdentifier: string } | undefined
  logs: { groupName: string; retentionDays: number }
}

/** A URL that only lets the relay's parser check everything else; the real one comes from a secret. */
const PLACEHOLDERS: Partial<Record<ConfigVariable, string>> = {
  DATABASE_URL: 'postgres://relay@database.invalid:5432/app',
  KAFKA_BROKERS: 'broker.invalid:9098',
  KAFKA_CLUSTER_ARN:
    'arn:aws:kafka:us-east-1:123456789012:cluster/placeholder/00000000-0000-0000-0000-000000000000-1',
}

/**
 * Build the deployment's spec. Every setting is checked by the relay's own configuration parser here, so a
 * bad value fails `sst deploy` or `cdk synth` instead of a task at start.
 *
 * @example
 * ```ts
 * import { relaySpec } from './infra/spec/index.js'
 *
 * const spec = relaySpec({
 *   slot: 'orders',
 *   kafka: { kind: 'msk-iam', clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/facts/abc-1' },
 * })
 * spec.container.environment.FACTLIB_METRICS // 'emf'
 * spec.alarms.map((alarm) => alarm.name) // ['factlib-relay-slot-lag-bytes', …]
 * ```
 */
export function relaySpec<V = string>(options: RelayDeploymentOptions<V>): RelaySpec<V> {
  const name = options.name ?? 'factlib-relay'
  if (!/^[A-Za-z0-9-]{1,64}$/.test(name))
    throw new Error(`name ${JSON.stringify(name)}: use A-Z, a-z, 0-9 and -`)
  const cpu = options.cpu ?? 512
  const memoryMiB = options.memoryMiB ?? 1024
  if (!validMemory(cpu, memoryMiB))
    throw new Error(`Fargate has no task size of cpu ${cpu} with ${memoryMiB} MiB`)
  const shutdownTimeoutSeconds = options.shutdownTimeoutSeconds ?? 25
  // Fargate allows a stop timeout of at most 120 s; keep 10 s for the process to exit after confirming.
  if (!Number.isInteger(shutdownTimeoutSeconds) || shutdownTimeoutSeconds < 1 || shutdownTimeoutSeconds > 110)
    throw new Error(
      'shutdownTimeoutSeconds: expected an integer from 1 to 110 (ECS stops a task after at most 120 s)',
    )
  const intervalSeconds = options.metricsIntervalSeconds ?? 60
  const port = 8080

  const environment: Partial<Record<ConfigVariable, string | V>> = {
    FACTLIB_SLOT: options.slot,
    FACTLIB_PUBLICATION: options.publication,
    FACTLIB_SOURCES: options.sources?.join(','),
    FACTLIB_TOPIC: options.topic,
    FACTLIB_TOPIC_PARTITIONS: options.topicPartitions?.toString(),
    FACTLIB_DLQ_TOPIC: options.dlqTopic,
    ...options.environment,
    ...kafkaEnvironment(options.kafka),
    FACTLIB_HTTP_PORT: String(port),
    FACTLIB_METRICS: 'emf',
    FACTLIB_METRICS_NAMESPACE: options.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
    FACTLIB_METRICS_INTERVAL: String(intervalSeconds),
    FACTLIB_SHUTDOWN_TIMEOUT: String(shutdownTimeoutSeconds),
  }
  for (const key of Object.keys(environment) as ConfigVariable[])
    if (environment[key] === undefined) delete environment[key]
  if ('DATABASE_URL' in environment)
    throw new Error('DATABASE_URL comes from the database secret, never from plain environment')

  const config = checkedConfig(environment)
  const mode = options.mode ?? 'service'
  if (mode !== 'service' && mode !== 'schedule')
    throw new Error(`mode ${JSON.stringify(mode)}: expected 'service' or 'schedule'`)
  checkDatabaseHost(options.databaseHost)
  if (mode === 'service' && options.schedule)
    throw new Error("schedule options apply to mode 'schedule' only")
  const schedule =
    mode === 'schedule' ? scheduleSpec(name, options.schedule, options.databaseHost, environment) : undefined
  const periodSeconds = schedule
    ? schedule.intervalMinutes * 60
    : Math.ceil(config.metricsIntervalSeconds / 60) * 60
  const database = options.database
  const alarms = relayAlarms({
    name,
    slot: config.slot,
    namespace: config.metricsNamespace,
    periodSeconds,
    stallSeconds: config.stallSeconds,
    database,
    options: options.alarms,
    schedule,
  })

  return {
    name,
    slot: config.slot,
    mode,
    schedule,
    container: {
      name: 'relay',
      image: { context: '.', dockerfile: 'packages/relay/Dockerfile' },
      architecture: 'arm64',
      cpu,
      memoryMiB,
      command: ['relay'],
      port,
      environment,
      secrets: ['DATABASE_URL'],
      healthCheck: {
        command: healthCheckCommand(port),
        intervalSeconds: 30,
        timeoutSeconds: 5,
        retries: 3,
        // Time to connect to the database and Kafka and create topics before failures count.
        startPeriodSeconds: 60,
      },
      stopTimeoutSeconds: shutdownTimeoutSeconds + 10,
      initProcessEnabled: true,
    },
    service: options.standby
      ? {
          desiredCount: 2,
          minimumHealthyPercent: 50,
          maximumPercent: 100,
          circuitBreaker: { enable: true, rollback: true },
        }
      : {
          desiredCount: 1,
          minimumHealthyPercent: 0,
          maximumPercent: 100,
          circuitBreaker: { enable: true, rollback: true },
        },
    kafka: options.kafka,
    iam: mskStatements(options.kafka, topicPatterns(config.topic, config.sources, config.dlqTopic)),
    metrics: {
      namespace: config.metricsNamespace,
      dimensions: { [METRIC_DIMENSION]: config.slot },
      names: RELAY_METRICS,
      intervalSeconds: config.metricsIntervalSeconds,
      periodSeconds,
    },
    alarms,
    alarmTopicName: `${name}-alarms`,
    dashboardName: name,
    database,
    logs: { groupName: `/factlib/${name}`, retentionDays: options.logRetentionDays ?? 30 },
  }
}

/** Parse the container's settings with the relay's own parser, deploy-time values replaced by placeholders. */
function checkedConfig<V>(environment: Partial<Record<ConfigVariable, string | V>>): RelayConfig {
  const plain: Record<string, string> = { DATABASE_URL: PLACEHOLDERS.DATABASE_URL as string }
  for (const [key, value] of Object.entries(environment) as [ConfigVariable, string | V][])
    plain[key] = typeof value === 'string' && !isToken(value) ? value : (PLACEHOLDERS[key] ?? String(value))
  return parseConfig(plain)
}

/** A CDK token stands for a value CloudFormation resolves later; check it as the placeholder would be. */
function isToken(value: string): boolean {
  return value.includes('${Token[')
}
