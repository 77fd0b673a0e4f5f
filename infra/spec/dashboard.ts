import type { AlarmKey } from './alarms.js'
import { AWS_METRICS, METRIC_DIMENSION, RELAY_METRICS } from './metrics.js'
import type { RelaySpec } from './spec.js'

/** Names known only at deploy time (CDK tokens are fine: they resolve inside the JSON). */
export interface DashboardRefs {
  region: string
  /** Service mode: ECS cluster and service names, for task count, CPU and memory. */
  clusterName?: string
  serviceName?: string
  /** Schedule mode: the function's name, for runs, errors and duration. */
  functionName?: string
  /** ARN of each alarm, for the alarm status widget. */
  alarmArns: Partial<Record<AlarmKey, string>>
}

type MetricLine = (string | Record<string, unknown>)[]
export interface Widget {
  type: 'metric' | 'alarm' | 'text'
  x: number
  y: number
  width: number
  height: number
  properties: Record<string, unknown>
}

/**
 * The CloudWatch dashboard body (`{ widgets }`), laid out on the 24-column grid:
 *
 * ```
 * ┌ header: slot, namespace, where alarms go ───────────────────────────────┐
 * │ slot lag, bytes (relay + RDS, thresholds)│ slot lag, sink stall, seconds│
 * │ facts/s        │ end-to-end latency      │ errors and dead letters      │
 * │ tasks & readers│ CPU and memory          │ alarm status                 │
 * └──────────────────────────────────────────────────────────────────────────┘
 * ```
 *
 * In schedule mode the last row shows the function instead: runs, errors, throttles and readers; run
 * duration against the timeout.
 */
export function dashboardBody(spec: RelaySpec<unknown>, refs: DashboardRefs): { widgets: Widget[] } {
  const { slot, alarms, database } = spec
  const { namespace, periodSeconds: period } = spec.metrics
  const relay = (metricName: string, options: Record<string, unknown>): MetricLine => [
    namespace,
    metricName,
    METRIC_DIMENSION,
    slot,
    options,
  ]
  const schedule = spec.schedule
  if (
    schedule
      ? refs.functionName === undefined
      : refs.clusterName === undefined || refs.serviceName === undefined
  )
    throw new Error(
      `dashboard refs: ${schedule ? 'functionName' : 'clusterName and serviceName'} required in ${spec.mode} mode`,
    )
  const service = ['ClusterName', refs.clusterName ?? '', 'ServiceName', refs.serviceName ?? '']
  const fn = (metricName: string, options: Record<string, unknown>): MetricLine => [
    AWS_METRICS.lambda.namespace,
    metricName,
    AWS_METRICS.lambda.dimension,
    refs.functionName ?? '',
    options,
  ]
  const threshold = (key: AlarmKey) => {
    const alarm = alarms.find((candidate) => candidate.key === key)
    return alarm ? [{ label: `alarm: ${alarm.name}`, value: alarm.threshold, color: '#d62728' }] : []
  }
  const graph = (
    position: Pick<Widget, 'x' | 'y' | 'width' | 'height'>,
    title: string,
    metrics: MetricLine[],
    extra: Record<string, unknown> = {},
  ): Widget => ({
    type: 'metric',
    ...position,
    properties: {
      title,
      region: refs.region,
      view: 'timeSeries',
      stacked: false,
      period,
      metrics,
      yAxis: { left: { min: 0 } },
      ...extra,
    },
  })
  const rds =
    database &&
    ((metricName: string, options: Record<string, unknown>): MetricLine => [
      AWS_METRICS.rds.namespace,
      metricName,
      AWS_METRICS.rds.dimension,
      database.instanceIdentifier,
      // RDS publishes every minute, whatever the relay's interval.
      { period: 60, ...options },
    ])

  return {
    widgets: [
      {
        type: 'text',
        x: 0,
        y: 0,
        width: 24,
        height: 2,
        properties: {
          markdown: `# factlib relay \`${spec.name}\`\nSlot \`${slot}\` · metrics in \`${namespace}\` every ${period} s · alarms notify the \`${spec.alarmTopicName}\` SNS topic · runbook: infra/README.md, section Alarms`,
        },
      },
      graph(
        { x: 0, y: 2, width: 12, height: 6 },
        'Slot lag (bytes of WAL held)',
        [
          relay(RELAY_METRICS.slotLagBytes, { stat: 'Maximum', label: `relay: slot ${slot}` }),
          ...(rds
            ? [
                rds(AWS_METRICS.rds.oldestReplicationSlotLag, {
                  stat: 'Maximum',
                  label: 'RDS: oldest slot (any)',
                }),
                rds(AWS_METRICS.rds.transactionLogsDiskUsage, { stat: 'Maximum', label: 'RDS: WAL on disk' }),
              ]
            : []),
        ],
        {
          annotations: {
            horizontal: [
              ...threshold('slotLagBytes'),
              ...threshold('databaseSlotLag'),
              ...threshold('databaseWalDisk'),
            ],
          },
        },
      ),
      graph(
        { x: 12, y: 2, width: 12, height: 6 },
        'Slot lag and sink stall (seconds)',
        [
          relay(RELAY_METRICS.slotLagSeconds, {
            stat: 'Maximum',
            label: `slot ${slot}: oldest unconfirmed commit`,
          }),
          relay(RELAY_METRICS.sinkStallSeconds, {
            stat: 'Maximum',
            label: 'sink: oldest batch not acknowledged',
          }),
        ],
        { annotations: { horizontal: [...threshold('slotLagSeconds'), ...threshold('sinkStalled')] } },
      ),
      graph({ x: 0, y: 8, width: 8, height: 6 }, 'Facts relayed per second', [
        [{ expression: 'm1 / PERIOD(m1)', label: 'facts/s', id: 'e1' }],
        relay(RELAY_METRICS.factsRelayed, { stat: 'Sum', id: 'm1', visible: false }),
        // Other tools' logical messages on the same database: skipped and confirmed, never alarmed on.
        [{ expression: 'm2 / PERIOD(m2)', label: "other tools' messages/s (skipped)", id: 'e2' }],
        relay(RELAY_METRICS.foreignMessages, { stat: 'Sum', id: 'm2', visible: false }),
      ]),
      // The relay emits each interval's p99: the median of those is the typical p99, the maximum the worst.
      graph({ x: 8, y: 8, width: 8, height: 6 }, 'End-to-end latency, commit → Kafka ack (ms)', [
        relay(RELAY_METRICS.endToEndLatencyP50, { stat: 'Average', label: 'p50' }),
        relay(RELAY_METRICS.endToEndLatency, { stat: 'Maximum', label: 'p99' }),
      ]),
      graph(
        { x: 16, y: 8, width: 8, height: 6 },
        'Errors and dead letters',
        [
          relay(RELAY_METRICS.produceErrors, { stat: 'Sum', label: 'produce errors (retried)' }),
          relay(RELAY_METRICS.deadLettered, { stat: 'Sum', label: 'dead-lettered facts', color: '#d62728' }),
        ],
        { annotations: { horizontal: threshold('deadLetters') } },
      ),
      ...(schedule
        ? [
            graph({ x: 0, y: 14, width: 8, height: 6 }, 'Runs, errors and active readers', [
              fn(AWS_METRICS.lambda.invocations, { stat: 'Sum', label: 'runs (1 per interval)' }),
              fn(AWS_METRICS.lambda.errors, { stat: 'Sum', label: 'failed runs', color: '#d62728' }),
              fn(AWS_METRICS.lambda.throttles, { stat: 'Sum', label: 'throttled (a run still going)' }),
              relay(RELAY_METRICS.heartbeat, { stat: 'SampleCount', label: 'heartbeats while draining' }),
            ]),
            graph(
              { x: 8, y: 14, width: 8, height: 6 },
              'Run duration (ms)',
              [
                fn(AWS_METRICS.lambda.duration, { stat: 'Maximum', label: 'longest run' }),
                fn(AWS_METRICS.lambda.duration, { stat: 'Average', label: 'average run' }),
              ],
              {
                annotations: {
                  horizontal: [{ label: 'timeout', value: schedule.timeoutSeconds * 1000, color: '#d62728' }],
                },
              },
            ),
          ]
        : [
            graph({ x: 0, y: 14, width: 8, height: 6 }, 'Tasks and active readers', [
              [
                AWS_METRICS.containerInsights.namespace,
                AWS_METRICS.containerInsights.running,
                ...service,
                { stat: 'Maximum', label: 'running tasks' },
              ],
              [
                AWS_METRICS.containerInsights.namespace,
                AWS_METRICS.containerInsights.desired,
                ...service,
                { stat: 'Maximum', label: 'desired tasks' },
              ],
              relay(RELAY_METRICS.heartbeat, {
                stat: 'SampleCount',
                label: 'heartbeats (1 per period = one reader)',
              }),
            ]),
            graph(
              { x: 8, y: 14, width: 8, height: 6 },
              'CPU and memory (% of task)',
              [
                [
                  AWS_METRICS.ecs.namespace,
                  AWS_METRICS.ecs.cpu,
                  ...service,
                  { stat: 'Maximum', label: 'CPU max' },
                ],
                [
                  AWS_METRICS.ecs.namespace,
                  AWS_METRICS.ecs.memory,
                  ...service,
                  { stat: 'Maximum', label: 'memory max' },
                ],
              ],
              { yAxis: { left: { min: 0, max: 100 } } },
            ),
          ]),
      {
        type: 'alarm',
        x: 16,
        y: 14,
        width: 8,
        height: 6,
        properties: {
          title: 'Alarm status',
          alarms: alarms.flatMap((alarm) => refs.alarmArns[alarm.key] ?? []),
        },
      },
    ],
  }
}
