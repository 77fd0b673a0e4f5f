import { AWS_METRICS, METRIC_DIMENSION, RELAY_METRICS } from './metrics.js'
import type { AlarmOptions } from './options.js'

/**
 * Every alarm of the relay's deployment, in one place. Each alarm sends ALARM and OK to the SNS topic the
 * front-end creates; each carries its runbook line in its description, and infra/README.md repeats them.
 *
 * | alarm | metric | fires when |
 * | --- | --- | --- |
 * | slot-lag-bytes | relay `SlotLagBytes` (Maximum) | WAL held by the slot stays above the threshold |
 * | slot-lag-seconds | relay `SlotLagSeconds` (Maximum) | the oldest unconfirmed commit is older than the threshold |
 * | heartbeat-missing | relay `Heartbeat` (Maximum) | service mode: no relay is streaming the slot (missing data breaches) |
 * | runs-missing | Lambda `Invocations` (Sum) | schedule mode: no run for two intervals (missing data breaches) |
 * | run-errors | Lambda `Errors` (Sum) | schedule mode: two runs in a row failed or timed out |
 * | dead-letters | relay `DeadLettered` (Sum) | any fact went to the dead-letter topic |
 * | sink-stalled | relay `SinkStallSeconds` (Maximum) | the sink has not acknowledged a batch for longer than `FACTLIB_STALL_SECONDS` |
 * | db-slot-lag | RDS `OldestReplicationSlotLag` (Maximum) | backstop when the relay cannot report at all |
 * | db-wal-disk | RDS `TransactionLogsDiskUsage` (Maximum) | backstop: WAL on the database's disk keeps growing |
 */
export type AlarmKey =
  | 'slotLagBytes'
  | 'slotLagSeconds'
  | 'heartbeatMissing'
  | 'runsMissing'
  | 'runErrors'
  | 'deadLetters'
  | 'sinkStalled'
  | 'databaseSlotLag'
  | 'databaseWalDisk'

/** One CloudWatch metric alarm, in the field names both CloudFormation and Pulumi use. */
export interface AlarmSpec {
  key: AlarmKey
  /** Full alarm name, unique per account and region. */
  name: string
  /** What the alarm means, then `Runbook:` and what to do; the alarm's description. */
  description: string
  runbook: string
  namespace: string
  metricName: string
  dimensions: Record<string, string>
  statistic: 'Maximum' | 'Sum'
  periodSeconds: number
  /** N: how many recent periods are evaluated. */
  evaluationPeriods: number
  /** M: how many of those must breach. */
  datapointsToAlarm: number
  threshold: number
  comparisonOperator: 'GreaterThanThreshold' | 'LessThanThreshold'
  treatMissingData: 'breaching' | 'notBreaching' | 'ignore'
}

/**
 * The properties of a CloudWatch alarm that CloudFormation (`CfnAlarm`) and Pulumi (`MetricAlarm`) name
 * alike, for `alarm`; ALARM and OK both notify `topicArn`. Each front-end adds the name and dimensions, which
 * they spell differently.
 */
export function cloudWatchAlarmProps<Arn>(alarm: AlarmSpec, topicArn: Arn) {
  return {
    alarmDescription: alarm.description,
    namespace: alarm.namespace,
    metricName: alarm.metricName,
    statistic: alarm.statistic,
    period: alarm.periodSeconds,
    evaluationPeriods: alarm.evaluationPeriods,
    datapointsToAlarm: alarm.datapointsToAlarm,
    threshold: alarm.threshold,
    comparisonOperator: alarm.comparisonOperator,
    treatMissingData: alarm.treatMissingData,
    alarmActions: [topicArn],
    okActions: [topicArn],
  }
}

const GiB = 1024 ** 3

/** The defaults of {@link AlarmOptions}. */
export const ALARM_DEFAULTS = {
  slotLagBytes: 1 * GiB,
  slotLagSeconds: 300,
  lag: { datapointsToAlarm: 3, evaluationPeriods: 5 },
  heartbeatMissingPeriods: 3,
  databaseWalDiskBytes: 10 * GiB,
} as const

export interface AlarmInput {
  name: string
  slot: string
  namespace: string
  /** The relay's metric period: its EMF interval rounded up to whole minutes. */
  periodSeconds: number
  /** The relay's `FACTLIB_STALL_SECONDS`: the sink-stalled alarm fires past the same limit as /readyz. */
  stallSeconds: number
  database: { instanceIdentifier: string } | undefined
  options: AlarmOptions | undefined
  /**
   * Schedule mode: the function and its interval. The relay reports only while a run lasts, so relay alarms
   * take one interval per period, and the function's runs and errors replace the heartbeat.
   */
  schedule?: { functionName: string; intervalMinutes: number }
}

/** CloudWatch evaluates at most one day of periods. */
const MAX_WINDOW_SECONDS = 86_400
const fitWindow = (periods: number, periodSeconds: number) =>
  Math.max(1, Math.min(periods, Math.floor(MAX_WINDOW_SECONDS / periodSeconds)))

export function relayAlarms({
  name,
  slot,
  namespace,
  periodSeconds,
  stallSeconds,
  database,
  options = {},
  schedule,
}: AlarmInput): AlarmSpec[] {
  const intervalSeconds = schedule ? schedule.intervalMinutes * 60 : undefined
  const lagBytes = options.slotLagBytes ?? ALARM_DEFAULTS.slotLagBytes
  // Between runs facts wait up to an interval by design: lag pages past two.
  const lagSeconds =
    options.slotLagSeconds ?? (intervalSeconds ? 2 * intervalSeconds : ALARM_DEFAULTS.slotLagSeconds)
  const relayLag = options.lag ?? (intervalSeconds ? windowOf(2, 3, intervalSeconds) : ALARM_DEFAULTS.lag)
  const lag = options.lag ?? ALARM_DEFAULTS.lag
  const heartbeatPeriods = options.heartbeatMissingPeriods ?? ALARM_DEFAULTS.heartbeatMissingPeriods
  const relay = {
    namespace,
    dimensions: { [METRIC_DIMENSION]: slot },
    periodSeconds: intervalSeconds ?? periodSeconds,
  }

  const alarms: AlarmSpec[] = [
    alarm({
      key: 'slotLagBytes',
      name: `${name}-slot-lag-bytes`,
      meaning: `Slot ${slot} holds more than ${lagBytes} bytes of WAL the relay has not confirmed.`,
      runbook:
        'Open the dashboard: if facts/s is flat, the relay is stuck (check its logs, /readyz, Kafka reachability) — restart the task; if facts/s is high, it is catching up — scale the task up (cpu/memory) and watch the lag fall. The database keeps this WAL on disk until it is confirmed.',
      ...relay,
      metricName: RELAY_METRICS.slotLagBytes,
      statistic: 'Maximum',
      ...relayLag,
      threshold: lagBytes,
      comparisonOperator: 'GreaterThanThreshold',
      // A dead relay reports nothing: keep the last state; heartbeat-missing reports the death itself.
      treatMissingData: 'ignore',
    }),
    alarm({
      key: 'slotLagSeconds',
      name: `${name}-slot-lag-seconds`,
      meaning: `The oldest commit slot ${slot} has not confirmed is more than ${lagSeconds} seconds old.`,
      runbook:
        'Consumers see facts late. Check the relay logs for Kafka errors or retries and the errors widget; a long-running transaction holding facts shows as lag in seconds without lag in bytes. Restart the task if it is not progressing.',
      ...relay,
      metricName: RELAY_METRICS.slotLagSeconds,
      statistic: 'Maximum',
      ...relayLag,
      threshold: lagSeconds,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'ignore',
    }),
    ...(schedule && intervalSeconds
      ? scheduleAlarms(name, slot, schedule.functionName, intervalSeconds)
      : [
          alarm({
            key: 'heartbeatMissing',
            name: `${name}-heartbeat-missing`,
            meaning: `No relay has streamed slot ${slot} for ${heartbeatPeriods} periods of ${periodSeconds} s.`,
            runbook:
              'Facts are not being relayed. Check the ECS service events and the task logs: a config error (exit 2), an unreachable database or Kafka, a missing slot (needs FACTLIB_CREATE_SLOT=force after a deliberate drop), or wal_status=lost (facts are gone: re-snapshot consumers).',
            ...relay,
            metricName: RELAY_METRICS.heartbeat,
            statistic: 'Maximum',
            evaluationPeriods: heartbeatPeriods,
            datapointsToAlarm: heartbeatPeriods,
            threshold: 1,
            comparisonOperator: 'LessThanThreshold',
            // The relay emits Heartbeat only while it owns the slot; silence is the failure.
            treatMissingData: 'breaching',
          }),
        ]),
    alarm({
      key: 'deadLetters',
      name: `${name}-dead-letters`,
      meaning: `At least one fact from slot ${slot} went to the dead-letter topic.`,
      runbook:
        'Read the dead-letter topic: each record carries the reason in its headers (too large, invalid topic, undecodable envelope, unknown version). Fix the emitter, then replay the records to their topic by hand.',
      ...relay,
      metricName: RELAY_METRICS.deadLettered,
      statistic: 'Sum',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    }),
    alarm({
      key: 'sinkStalled',
      name: `${name}-sink-stalled`,
      meaning: `The relay of slot ${slot} has handed a batch to its sink that has not been acknowledged for more than ${stallSeconds} seconds (FACTLIB_STALL_SECONDS): every source waits behind it.`,
      runbook:
        "Kafka refuses the batch and the relay retries it for ever, in order, skipping nothing. Read the last error's kind on /readyz or with factlib status, and the relay's log for the topic: an ACL or IAM policy denying WriteData on one topic, a topic whose min.insync.replicas cannot be met, a broker refusing the records. Fix that; the relay delivers what waited and turns ready again by itself. A restart does not help: it retries the same batch.",
      ...relay,
      metricName: RELAY_METRICS.sinkStallSeconds,
      statistic: 'Maximum',
      // The value is already a duration: one period over the limit is a stall, never a blip.
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: stallSeconds,
      comparisonOperator: 'GreaterThanThreshold',
      // A dead relay reports nothing: heartbeat-missing reports that.
      treatMissingData: 'ignore',
    }),
  ]

  if (database) {
    const rds = {
      namespace: AWS_METRICS.rds.namespace,
      dimensions: { [AWS_METRICS.rds.dimension]: database.instanceIdentifier },
      // RDS publishes these every minute, whatever the relay's interval.
      periodSeconds: 60,
      statistic: 'Maximum' as const,
      ...lag,
      comparisonOperator: 'GreaterThanThreshold' as const,
      // A database that stops publishing is another alarm's business.
      treatMissingData: 'notBreaching' as const,
    }
    alarms.push(
      alarm({
        key: 'databaseSlotLag',
        name: `${name}-db-slot-lag`,
        meaning: `A replication slot on ${database.instanceIdentifier} holds more WAL than the backstop threshold (any slot, not only ${slot}).`,
        runbook:
          "The database's own view, independent of the relay. If the relay alarms are quiet, another slot is lagging (select slot_name, active from pg_replication_slots) — drop abandoned slots; otherwise follow slot-lag-bytes.",
        ...rds,
        metricName: AWS_METRICS.rds.oldestReplicationSlotLag,
        threshold: options.databaseSlotLagBytes ?? 4 * lagBytes,
      }),
      alarm({
        key: 'databaseWalDisk',
        name: `${name}-db-wal-disk`,
        meaning: `WAL on ${database.instanceIdentifier}'s disk exceeds the backstop threshold.`,
        runbook:
          'Retained WAL fills the disk and then stops the database. Find who holds it (pg_replication_slots, restart_lsn), get the relay confirming again, grow the storage if needed; drop a slot only when losing its facts is accepted.',
        ...rds,
        metricName: AWS_METRICS.rds.transactionLogsDiskUsage,
        threshold: options.databaseWalDiskBytes ?? ALARM_DEFAULTS.databaseWalDiskBytes,
      }),
    )
  }
  return alarms
}

/** `datapointsToAlarm` of `evaluationPeriods` periods, shortened to fit CloudWatch's one-day window. */
function windowOf(datapointsToAlarm: number, evaluationPeriods: number, periodSeconds: number) {
  const periods = fitWindow(evaluationPeriods, periodSeconds)
  return { datapointsToAlarm: Math.min(datapointsToAlarm, periods), evaluationPeriods: periods }
}

/** Schedule mode's replacement for heartbeat-missing: the function's own runs and errors, per interval. */
function scheduleAlarms(
  name: string,
  slot: string,
  functionName: string,
  intervalSeconds: number,
): AlarmSpec[] {
  const lambda = {
    namespace: AWS_METRICS.lambda.namespace,
    dimensions: { [AWS_METRICS.lambda.dimension]: functionName },
    periodSeconds: intervalSeconds,
    statistic: 'Sum' as const,
  }
  const two = fitWindow(2, intervalSeconds)
  return [
    alarm({
      key: 'runsMissing',
      name: `${name}-runs-missing`,
      meaning: `The schedule has not invoked ${functionName} (slot ${slot}) for ${two} intervals of ${intervalSeconds} s.`,
      runbook:
        'Facts are not being relayed. Check that the schedule is ENABLED and its role may invoke the function, and the function exists and is not throttled (reserved concurrency 1). Silence counts as breaching.',
      ...lambda,
      metricName: AWS_METRICS.lambda.invocations,
      evaluationPeriods: two,
      datapointsToAlarm: two,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      treatMissingData: 'breaching',
    }),
    alarm({
      key: 'runErrors',
      name: `${name}-run-errors`,
      meaning: `Drain runs of ${functionName} (slot ${slot}) failed or timed out in ${two} intervals in a row.`,
      runbook:
        "Read the function's log (the same log group as the relay's): a configuration error, an unreachable database (a Lambda in a VPC reaches the internet only through a NAT gateway) or Kafka, a missing slot (FACTLIB_CREATE_SLOT=force after a deliberate drop), or wal_status=lost (facts are gone: re-snapshot consumers). A run that found the slot busy is not an error.",
      ...lambda,
      metricName: AWS_METRICS.lambda.errors,
      evaluationPeriods: two,
      datapointsToAlarm: two,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    }),
  ]
}

function alarm({ meaning, ...spec }: Omit<AlarmSpec, 'description'> & { meaning: string }): AlarmSpec {
  if (spec.datapointsToAlarm > spec.evaluationPeriods)
    throw new RangeError(`alarm ${spec.name}: datapointsToAlarm must not exceed evaluationPeriods`)
  if (spec.evaluationPeriods * spec.periodSeconds > MAX_WINDOW_SECONDS)
    throw new RangeError(`alarm ${spec.name}: evaluationPeriods × period exceeds CloudWatch's one day`)
  // CloudWatch caps alarm descriptions at 1024 characters.
  const description = `${meaning} Runbook: ${spec.runbook}`.slice(0, 1024)
  return { ...spec, description }
}
