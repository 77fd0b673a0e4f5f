import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONFIG_VARIABLES } from '@factlib/relay/config'
import { METRICS } from '@factlib/relay/metric-names'
import type { AlarmKey, RelayDeploymentOptions, RelaySpec, Widget } from '../spec/index.js'

export const MSK_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:cluster/facts/1b2c3d4e-1111-2222-3333-444455556666-s1'
export const MSK_TOPIC_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:topic/facts/1b2c3d4e-1111-2222-3333-444455556666-s1'

export const MSK_GROUP_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:group/facts/1b2c3d4e-1111-2222-3333-444455556666-s1'

/**
 * The oracle for the execution role of the consumer `orders-projection` of `orders.Order` with the default
 * failure queue (whose ARN the front-end knows), written out by hand.
 */
export const expectedConsumerStatements = (queueArn: unknown) => [
  {
    actions: [
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeClusterDynamicConfiguration',
      'kafka:DescribeClusterV2',
      'kafka:GetBootstrapBrokers',
    ],
    resources: [MSK_ARN],
  },
  {
    actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
    resources: [`${MSK_TOPIC_ARN}/orders.Order`],
  },
  {
    actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
    resources: [`${MSK_GROUP_ARN}/orders-projection`],
  },
  {
    actions: [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeVpcs',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeSubnets',
      'ec2:DescribeSecurityGroups',
    ],
    resources: ['*'],
  },
  { actions: ['sqs:SendMessage'], resources: [queueArn] },
]

/** The deployment every front-end test builds: MSK by ARN, two sources, an RDS instance. */
export const OPTIONS = {
  name: 'factlib-relay-test',
  slot: 'orders_slot',
  sources: ['orders', 'billing'],
  kafka: { kind: 'msk-iam', clusterArn: MSK_ARN },
  database: { instanceIdentifier: 'orders-db' },
} as const satisfies RelayDeploymentOptions

const GiB = 1024 ** 3
const relay = { namespace: 'Factlib', dimensions: { Slot: 'orders_slot' }, periodSeconds: 60 }
const rds = { namespace: 'AWS/RDS', dimensions: { DBInstanceIdentifier: 'orders-db' }, periodSeconds: 60 }

/**
 * The oracle for every alarm of {@link OPTIONS}, written out by hand: the spec, the SST resources and the
 * CDK template are each checked against it. Relay metric names come from the relay's constants.
 */
export interface ExpectedAlarm {
  name: string
  namespace: string
  metricName: string
  dimensions: Record<string, string>
  statistic: string
  periodSeconds: number
  threshold: number
  evaluationPeriods: number
  datapointsToAlarm: number
  comparisonOperator: string
  treatMissingData: string
}

export const EXPECTED_ALARMS = {
  slotLagBytes: {
    name: 'factlib-relay-test-slot-lag-bytes',
    ...relay,
    metricName: METRICS.slotLagBytes.emf,
    statistic: 'Maximum',
    threshold: 1 * GiB,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'ignore',
  },
  slotLagSeconds: {
    name: 'factlib-relay-test-slot-lag-seconds',
    ...relay,
    metricName: METRICS.slotLagSeconds.emf,
    statistic: 'Maximum',
    threshold: 300,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'ignore',
  },
  heartbeatMissing: {
    name: 'factlib-relay-test-heartbeat-missing',
    ...relay,
    metricName: METRICS.streaming.emf,
    statistic: 'Maximum',
    threshold: 1,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'breaching',
  },
  deadLetters: {
    name: 'factlib-relay-test-dead-letters',
    ...relay,
    metricName: METRICS.deadLettered.emf,
    statistic: 'Sum',
    threshold: 0,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
  sinkStalled: {
    name: 'factlib-relay-test-sink-stalled',
    ...relay,
    metricName: METRICS.sinkStallSeconds.emf,
    statistic: 'Maximum',
    threshold: 120,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'ignore',
  },
  databaseSlotLag: {
    name: 'factlib-relay-test-db-slot-lag',
    ...rds,
    metricName: 'OldestReplicationSlotLag',
    statistic: 'Maximum',
    threshold: 4 * GiB,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
  databaseWalDisk: {
    name: 'factlib-relay-test-db-wal-disk',
    ...rds,
    metricName: 'TransactionLogsDiskUsage',
    statistic: 'Maximum',
    threshold: 10 * GiB,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
} satisfies Partial<Record<AlarmKey, ExpectedAlarm>>

/** A Neon endpoint's host (direct, not the pooler). */
export const NEON_HOST = 'ep-cool-darkness-123456.eu-central-1.aws.neon.tech'

/** Schedule mode on Neon: the default interval of 15 minutes. */
export const SCHEDULE_OPTIONS = {
  name: 'factlib-relay-test',
  slot: 'orders_slot',
  sources: ['orders', 'billing'],
  kafka: { kind: 'msk-iam', clusterArn: MSK_ARN },
  mode: 'schedule',
  databaseHost: NEON_HOST,
} as const satisfies RelayDeploymentOptions

const interval = { namespace: 'Factlib', dimensions: { Slot: 'orders_slot' }, periodSeconds: 900 }
const lambda = {
  namespace: 'AWS/Lambda',
  dimensions: { FunctionName: 'factlib-relay-test' },
  periodSeconds: 900,
  statistic: 'Sum',
}

/**
 * The oracle for {@link SCHEDULE_OPTIONS}: one interval (900 s) per period; lag over 2 of 3 intervals, in
 * seconds past two intervals; the function's runs and errors instead of the heartbeat; no RDS backstop.
 */
export const EXPECTED_SCHEDULE_ALARMS: Partial<Record<AlarmKey, ExpectedAlarm>> = {
  slotLagBytes: {
    ...EXPECTED_ALARMS.slotLagBytes,
    ...interval,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  },
  slotLagSeconds: {
    ...EXPECTED_ALARMS.slotLagSeconds,
    ...interval,
    threshold: 1800,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  },
  runsMissing: {
    name: 'factlib-relay-test-runs-missing',
    ...lambda,
    metricName: 'Invocations',
    threshold: 1,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'breaching',
  },
  runErrors: {
    name: 'factlib-relay-test-run-errors',
    ...lambda,
    metricName: 'Errors',
    threshold: 0,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
  deadLetters: { ...EXPECTED_ALARMS.deadLetters, ...interval },
  sinkStalled: { ...EXPECTED_ALARMS.sinkStalled, ...interval },
}

/** One alarm of an oracle table; a key the table lacks fails the test. */
export function expectedAlarm(table: Partial<Record<AlarmKey, ExpectedAlarm>>, key: AlarmKey): ExpectedAlarm {
  const expected = table[key]
  if (!expected) throw new Error(`no expected alarm ${key}`)
  return expected
}

/** Widget titles of the schedule mode's dashboard, in order. */
export const EXPECTED_SCHEDULE_WIDGETS = [
  'Slot lag (bytes of WAL held)',
  'Slot lag and sink stall (seconds)',
  'Facts relayed per second',
  'End-to-end latency, commit → Kafka ack (ms)',
  'Errors and dead letters',
  'Runs, errors and active readers',
  'Run duration (ms)',
  'Alarm status',
]

/** Widget titles of the dashboard, in order. */
export const EXPECTED_WIDGETS = [
  'Slot lag (bytes of WAL held)',
  'Slot lag and sink stall (seconds)',
  'Facts relayed per second',
  'End-to-end latency, commit → Kafka ack (ms)',
  'Errors and dead letters',
  'Tasks and active readers',
  'CPU and memory (% of task)',
  'Alarm status',
]

const EMITTED = new Set<string>(Object.values(METRICS).flatMap((metric) => (metric.emf ? [metric.emf] : [])))

/** Relay-namespace metric names used by the alarms or a dashboard body that the relay does not emit. */
export function unknownRelayMetrics(spec: RelaySpec<unknown>, body: { widgets: Widget[] }): string[] {
  const used = [
    ...spec.alarms
      .filter((alarm) => alarm.namespace === spec.metrics.namespace)
      .map((alarm) => alarm.metricName),
    ...body.widgets.flatMap((widget) =>
      ((widget.properties.metrics ?? []) as unknown[][])
        .filter((line) => line[0] === spec.metrics.namespace)
        .map((line) => String(line[1])),
    ),
  ]
  return used.filter((name) => !EMITTED.has(name))
}

/** Variables in a container environment that the relay's configuration contract does not define. */
export function unknownVariables(environment: Record<string, unknown>): string[] {
  return Object.keys(environment).filter((name) => !(name in CONFIG_VARIABLES))
}

/** The metric lines of the dashboard widget with this title. */
export function widgetMetrics(body: { widgets: Widget[] }, title: string): unknown[][] {
  const widget = body.widgets.find((candidate) => candidate.properties.title === title)
  if (!widget) throw new Error(`no widget titled ${title}`)
  return (widget.properties.metrics ?? []) as unknown[][]
}

/** `<workspace>/package.json` of every workspace of the repository, `examples/*` expanded. */
export function workspaceManifests(): string[] {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    workspaces: string[]
  }
  return workspaces
    .flatMap((pattern) =>
      pattern.endsWith('/*')
        ? readdirSync(join(root, pattern.slice(0, -2))).map((entry) => `${pattern.slice(0, -2)}/${entry}`)
        : [pattern],
    )
    .map((folder) => `${folder}/package.json`)
    .filter((manifest) => existsSync(join(root, manifest)))
}
