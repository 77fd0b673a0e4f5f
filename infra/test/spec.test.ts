import { CONFIG_VARIABLES, parseConfig } from '@factlib/relay/config'
import { METRICS } from '@factlib/relay/metric-names'
import { describe, expect, it } from 'vitest'
import {
  dashboardBody,
  mskTopicArn,
  type RelayDeploymentOptions,
  relaySpec,
  topicPatterns,
} from '../spec/index.js'
import {
  EXPECTED_ALARMS,
  EXPECTED_WIDGETS,
  expectedAlarm,
  MSK_ARN,
  MSK_TOPIC_ARN,
  OPTIONS,
  unknownRelayMetrics,
  unknownVariables,
  widgetMetrics,
} from './support.js'

const spec = relaySpec(OPTIONS)
const refs = {
  region: 'eu-west-1',
  clusterName: 'factlib-cluster',
  serviceName: 'factlib-relay',
  alarmArns: Object.fromEntries(
    spec.alarms.map((alarm) => [alarm.key, `arn:aws:cloudwatch:eu-west-1:1:alarm:${alarm.name}`]),
  ),
}
const body = dashboardBody(spec, refs)

const VARIANTS: Record<string, RelayDeploymentOptions> = {
  'MSK by ARN': OPTIONS,
  'MSK with brokers': {
    kafka: {
      kind: 'msk-iam',
      clusterArn: MSK_ARN,
      bootstrapBrokers: 'b-1.facts.kafka-serverless.eu-west-1.amazonaws.com:9098',
    },
  },
  'plain brokers, standby, every option': {
    name: 'relay-x',
    slot: 'x_slot',
    publication: 'x_pub',
    sources: ['x'],
    topic: 'facts.{source}.{aggregateType}',
    topicPartitions: 12,
    dlqTopic: 'facts.dlq',
    kafka: { kind: 'brokers', brokers: 'kafka-1.internal:9092,kafka-2.internal:9092' },
    standby: true,
    shutdownTimeoutSeconds: 40,
    metricsNamespace: 'Facts/Prod',
    metricsIntervalSeconds: 30,
    environment: {
      FACTLIB_CREATE_SLOT: 'false',
      FACTLIB_MAX_INFLIGHT_BYTES: String(128 * 1024 * 1024),
      FACTLIB_STALL_SECONDS: '300',
    },
  },
}

describe('the spec speaks the relay’s contracts', () => {
  it('reads only metrics the relay emits, and reads all of them', () => {
    expect(unknownRelayMetrics(spec, body)).toEqual([])
    const used = new Set([
      ...spec.alarms.map((alarm) => alarm.metricName),
      ...body.widgets.flatMap((widget) =>
        ((widget.properties.metrics ?? []) as unknown[][]).map((line) => line[1]),
      ),
    ])
    for (const metric of Object.values(METRICS))
      if (metric.emf) expect(used, metric.emf).toContain(metric.emf)

    // The check itself catches a name the relay does not emit.
    const misspelled = { ...spec, alarms: [{ ...spec.alarms[0]!, metricName: 'SlotLagByte' }] }
    expect(unknownRelayMetrics(misspelled, body)).toEqual(['SlotLagByte'])
  })

  it.each(Object.entries(VARIANTS))(
    'sets only variables the relay’s parser knows, which it accepts: %s',
    (_, options) => {
      const { environment, secrets } = relaySpec(options).container
      expect(unknownVariables(environment)).toEqual([])
      for (const secret of secrets) expect(Object.keys(CONFIG_VARIABLES)).toContain(secret)
      expect(environment).not.toHaveProperty('DATABASE_URL')
      const config = parseConfig({ ...environment, DATABASE_URL: 'postgres://relay@db.internal:5432/app' })
      expect(config).toMatchObject({
        slot: options.slot ?? 'factlib',
        metrics: 'emf',
        metricsNamespace: options.metricsNamespace ?? 'Factlib',
        httpPort: 8080,
        shutdownTimeoutMs: (options.shutdownTimeoutSeconds ?? 25) * 1000,
        stallSeconds: Number(options.environment?.FACTLIB_STALL_SECONDS ?? 120),
        sink: { kind: 'kafka', tls: options.kafka.kind === 'msk-iam' },
      })
      if (options.kafka.kind === 'msk-iam') expect(config.sink).toMatchObject({ sasl: 'iam' })

      expect(unknownVariables({ ...environment, FACTLIB_SLOTS: 'x' })).toEqual(['FACTLIB_SLOTS'])
    },
  )

  it('fails while building the spec on a setting the relay would refuse, naming it', () => {
    const kafka = OPTIONS.kafka
    expect(() => relaySpec({ kafka, slot: 'Orders-Slot' })).toThrow(/FACTLIB_SLOT/)
    expect(() => relaySpec({ kafka, metricsIntervalSeconds: 0 })).toThrow(/FACTLIB_METRICS_INTERVAL/)
    expect(() => relaySpec({ kafka, environment: { FACTLIB_TOPIC_PARTITIONS: 'many' } })).toThrow(
      /FACTLIB_TOPIC_PARTITIONS/,
    )
    expect(() => relaySpec({ kafka: { kind: 'brokers', brokers: 'no-port' } })).toThrow(/KAFKA_BROKERS/)
    expect(() => relaySpec({ kafka, environment: { DATABASE_URL: 'postgres://u:p@h/d' } })).toThrow(/secret/)
    expect(() => relaySpec({ kafka, cpu: 256, memoryMiB: 4096 })).toThrow(/task size/)
    expect(() => relaySpec({ kafka, shutdownTimeoutSeconds: 115 })).toThrow(/120 s/)
    expect(() => relaySpec({ kafka, environment: { FACTLIB_STALL_SECONDS: '0' } })).toThrow(
      /FACTLIB_STALL_SECONDS/,
    )
    // @ts-expect-error a variable outside the relay's contract does not type-check
    relaySpec({ kafka, environment: { FACTLIB_SLOTS: 'x' } })
  })
})

describe('the container and the service', () => {
  it('is an arm64 task of 0.5 vCPU and 1 GiB with the database URL as a secret', () => {
    expect(spec.container).toMatchObject({
      architecture: 'arm64',
      cpu: 512,
      memoryMiB: 1024,
      command: ['relay'],
      secrets: ['DATABASE_URL'],
      initProcessEnabled: true,
      image: { context: '.', dockerfile: 'packages/relay/Dockerfile' },
    })
    expect(spec.container.environment).toMatchObject({
      FACTLIB_SLOT: 'orders_slot',
      FACTLIB_SOURCES: 'orders,billing',
      FACTLIB_SINK: 'kafka',
      KAFKA_CLUSTER_ARN: MSK_ARN,
      KAFKA_SASL: 'iam',
      KAFKA_TLS: 'true',
      FACTLIB_METRICS: 'emf',
      FACTLIB_METRICS_NAMESPACE: 'Factlib',
      FACTLIB_HTTP_PORT: '8080',
    })
  })

  it('checks /healthz on the relay’s port and stops later than the relay’s own shutdown timeout', () => {
    const { healthCheck, stopTimeoutSeconds, environment } = spec.container
    expect(healthCheck).toMatchObject({
      intervalSeconds: 30,
      timeoutSeconds: 5,
      retries: 3,
      startPeriodSeconds: 60,
    })
    expect(healthCheck.command.slice(0, 3)).toEqual(['CMD', 'node', '-e'])
    expect(healthCheck.command[3]).toContain('http://127.0.0.1:8080/healthz')
    expect(stopTimeoutSeconds).toBe(35)
    expect(stopTimeoutSeconds).toBeGreaterThan(Number(environment.FACTLIB_SHUTDOWN_TIMEOUT))
    expect(relaySpec({ ...OPTIONS, shutdownTimeoutSeconds: 60 }).container.stopTimeoutSeconds).toBe(70)
  })

  it('never runs two readers by accident: one task at 0/100, or an explicit standby of two at 50/100', () => {
    const circuitBreaker = { enable: true, rollback: true }
    expect(spec.service).toEqual({
      desiredCount: 1,
      minimumHealthyPercent: 0,
      maximumPercent: 100,
      circuitBreaker,
    })
    expect(relaySpec({ ...OPTIONS, standby: true }).service).toEqual({
      desiredCount: 2,
      minimumHealthyPercent: 50,
      maximumPercent: 100,
      circuitBreaker,
    })
  })

  it('grants MSK access to the cluster, the configured sources’ topics and the DLQ, and the broker lookup only when needed', () => {
    expect(spec.iam).toEqual([
      {
        actions: [
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeCluster',
          'kafka-cluster:WriteDataIdempotently',
        ],
        resource: { kind: 'cluster' },
      },
      {
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:WriteData'],
        resource: { kind: 'topics', patterns: ['orders.*', 'billing.*', 'factlib.dlq'] },
      },
      { actions: ['kafka:GetBootstrapBrokers'], resource: { kind: 'cluster' } },
    ])
    const withBrokers = relaySpec(VARIANTS['MSK with brokers']!)
    expect(withBrokers.iam.flatMap((statement) => statement.actions)).not.toContain(
      'kafka:GetBootstrapBrokers',
    )
    expect(withBrokers.container.environment).not.toHaveProperty('KAFKA_CLUSTER_ARN')
    expect(relaySpec(VARIANTS['plain brokers, standby, every option']!).iam).toEqual([])

    expect(topicPatterns('{source}.{aggregateType}', undefined, 'factlib.dlq')).toEqual([
      '*.*',
      'factlib.dlq',
    ])
    expect(topicPatterns('facts-{aggregateType}', ['a', 'b'], 'dlq')).toEqual(['facts-*', 'dlq'])
    expect(mskTopicArn(MSK_ARN, 'orders.*')).toBe(`${MSK_TOPIC_ARN}/orders.*`)
  })
})

describe('alarms', () => {
  it('are exactly the table: metric, statistic, threshold, M of N, missing data', () => {
    expect(spec.alarms.map((alarm) => alarm.key)).toEqual(Object.keys(EXPECTED_ALARMS))
    for (const alarm of spec.alarms)
      expect(alarm, alarm.key).toMatchObject(expectedAlarm(EXPECTED_ALARMS, alarm.key))
  })

  it('each carries its runbook line in its description', () => {
    for (const alarm of spec.alarms) {
      expect(alarm.runbook.length, alarm.key).toBeGreaterThan(40)
      expect(alarm.description).toContain(`Runbook: ${alarm.runbook.slice(0, 40)}`)
      expect(alarm.description.length).toBeLessThanOrEqual(1024)
    }
  })

  it('has the database backstops only for a database, and follows the EMF interval and the options', () => {
    const plain = relaySpec({ kafka: OPTIONS.kafka })
    expect(plain.alarms.map((alarm) => alarm.key)).toEqual([
      'slotLagBytes',
      'slotLagSeconds',
      'heartbeatMissing',
      'deadLetters',
      'sinkStalled',
    ])
    const slower = relaySpec({
      ...OPTIONS,
      metricsIntervalSeconds: 90,
      alarms: {
        slotLagBytes: 5e8,
        lag: { datapointsToAlarm: 2, evaluationPeriods: 4 },
        heartbeatMissingPeriods: 5,
      },
    })
    const byKey = Object.fromEntries(slower.alarms.map((alarm) => [alarm.key, alarm]))
    expect(byKey.slotLagBytes).toMatchObject({
      periodSeconds: 120,
      threshold: 5e8,
      datapointsToAlarm: 2,
      evaluationPeriods: 4,
    })
    expect(byKey.heartbeatMissing).toMatchObject({
      periodSeconds: 120,
      datapointsToAlarm: 5,
      evaluationPeriods: 5,
    })
    expect(byKey.databaseSlotLag).toMatchObject({ periodSeconds: 60, threshold: 2e9 })
    expect(() =>
      relaySpec({ ...OPTIONS, alarms: { lag: { datapointsToAlarm: 6, evaluationPeriods: 5 } } }),
    ).toThrow(/datapointsToAlarm/)
  })

  it('stalls where the relay does: the sink-stalled threshold is the container’s FACTLIB_STALL_SECONDS', () => {
    const spec = relaySpec({ ...OPTIONS, environment: { FACTLIB_STALL_SECONDS: '45' } })
    expect(spec.container.environment.FACTLIB_STALL_SECONDS).toBe('45')
    expect(spec.alarms.find((alarm) => alarm.key === 'sinkStalled')).toMatchObject({
      threshold: 45,
      metricName: METRICS.sinkStallSeconds.emf,
      description: expect.stringContaining('more than 45 seconds (FACTLIB_STALL_SECONDS)'),
    })
  })
})

describe('the dashboard', () => {
  it('has the lag, throughput, latency, errors, tasks, resources and alarm widgets, each in the region', () => {
    expect(body.widgets.flatMap((widget) => widget.properties.title ?? [])).toEqual(EXPECTED_WIDGETS)
    for (const widget of body.widgets.filter((candidate) => candidate.type === 'metric'))
      expect(widget.properties, String(widget.properties.title)).toMatchObject({
        region: 'eu-west-1',
        period: 60,
      })
    for (const widget of body.widgets) expect(widget.x + widget.width).toBeLessThanOrEqual(24)
  })

  it('shows the relay’s slot lag beside the RDS metrics, with the alarms’ threshold lines', () => {
    const lag = body.widgets.find((widget) => widget.properties.title === EXPECTED_WIDGETS[0])!
    expect(widgetMetrics(body, EXPECTED_WIDGETS[0]!)).toEqual([
      [
        'Factlib',
        METRICS.slotLagBytes.emf,
        'Slot',
        'orders_slot',
        expect.objectContaining({ stat: 'Maximum' }),
      ],
      [
        'AWS/RDS',
        'OldestReplicationSlotLag',
        'DBInstanceIdentifier',
        'orders-db',
        expect.objectContaining({ stat: 'Maximum' }),
      ],
      [
        'AWS/RDS',
        'TransactionLogsDiskUsage',
        'DBInstanceIdentifier',
        'orders-db',
        expect.objectContaining({ stat: 'Maximum' }),
      ],
    ])
    expect(lag.properties.annotations).toEqual({
      horizontal: [
        expect.objectContaining({ value: EXPECTED_ALARMS.slotLagBytes.threshold }),
        expect.objectContaining({ value: EXPECTED_ALARMS.databaseSlotLag.threshold }),
        expect.objectContaining({ value: EXPECTED_ALARMS.databaseWalDisk.threshold }),
      ],
    })
    const seconds = body.widgets.find((widget) => widget.properties.title === EXPECTED_WIDGETS[1])!
    expect(widgetMetrics(body, EXPECTED_WIDGETS[1]!).map((line) => line[1])).toEqual([
      METRICS.slotLagSeconds.emf,
      METRICS.sinkStallSeconds.emf,
    ])
    expect(seconds.properties.annotations).toEqual({
      horizontal: [
        expect.objectContaining({ value: EXPECTED_ALARMS.slotLagSeconds.threshold }),
        expect.objectContaining({ value: EXPECTED_ALARMS.sinkStalled.threshold }),
      ],
    })
  })

  it('graphs facts/s by metric math, latency, errors, tasks and CPU/memory of the service, and every alarm’s state', () => {
    expect(widgetMetrics(body, 'Facts relayed per second')).toEqual([
      [{ expression: 'm1 / PERIOD(m1)', label: 'facts/s', id: 'e1' }],
      ['Factlib', METRICS.factsRelayed.emf, 'Slot', 'orders_slot', { stat: 'Sum', id: 'm1', visible: false }],
      [{ expression: 'm2 / PERIOD(m2)', label: "other tools' messages/s (skipped)", id: 'e2' }],
      [
        'Factlib',
        METRICS.foreignMessages.emf,
        'Slot',
        'orders_slot',
        { stat: 'Sum', id: 'm2', visible: false },
      ],
    ])
    expect(
      widgetMetrics(body, EXPECTED_WIDGETS[3]!).map((line) => [line[1], (line[4] as { stat: string }).stat]),
    ).toEqual([
      [METRICS.endToEndLatencyP50.emf, 'Average'],
      [METRICS.endToEndLatency.emf, 'Maximum'],
    ])
    expect(widgetMetrics(body, 'Errors and dead letters').map((line) => line[1])).toEqual([
      METRICS.produceErrors.emf,
      METRICS.deadLettered.emf,
    ])
    const service = ['ClusterName', 'factlib-cluster', 'ServiceName', 'factlib-relay']
    expect(widgetMetrics(body, 'Tasks and active readers').map((line) => line.slice(0, 6))).toEqual([
      ['ECS/ContainerInsights', 'RunningTaskCount', ...service],
      ['ECS/ContainerInsights', 'DesiredTaskCount', ...service],
      [
        'Factlib',
        METRICS.streaming.emf,
        'Slot',
        'orders_slot',
        { stat: 'SampleCount', label: expect.any(String) },
      ],
    ])
    expect(widgetMetrics(body, 'CPU and memory (% of task)').map((line) => line.slice(0, 6))).toEqual([
      ['AWS/ECS', 'CPUUtilization', ...service],
      ['AWS/ECS', 'MemoryUtilization', ...service],
    ])
    const alarms = body.widgets.find((widget) => widget.type === 'alarm')!
    expect(alarms.properties.alarms).toEqual(spec.alarms.map((alarm) => refs.alarmArns[alarm.key]))
  })
})
