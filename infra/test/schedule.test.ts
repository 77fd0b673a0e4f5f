import { parseConfig } from '@factlib/relay/config'
import { describe, expect, it } from 'vitest'
import { dashboardBody, defaultIntervalMinutes, isNeonHost, relaySpec } from '../spec/index.js'
import { readDeploySettings, vpcNat } from '../sst/index.js'
import {
  EXPECTED_SCHEDULE_ALARMS,
  EXPECTED_SCHEDULE_WIDGETS,
  expectedAlarm,
  NEON_HOST,
  OPTIONS,
  SCHEDULE_OPTIONS,
  unknownRelayMetrics,
  unknownVariables,
  widgetMetrics,
} from './support.js'

const spec = relaySpec(SCHEDULE_OPTIONS)
const kafka = OPTIONS.kafka

describe('schedule mode in the spec', () => {
  it('is off by default: service mode is today’s Fargate deployment', () => {
    const service = relaySpec(OPTIONS)
    expect(service.mode).toBe('service')
    expect(service.schedule).toBeUndefined()
    expect(() => relaySpec({ kafka, schedule: { intervalMinutes: 10 } })).toThrow(/mode 'schedule' only/)
    // @ts-expect-error a mode that does not exist
    expect(() => relaySpec({ kafka, mode: 'cron' })).toThrow(/expected 'service' or 'schedule'/)
  })

  it('runs the relay’s Lambda bundle on Node 22, arm64, one at a time, without async retries, below the interval', () => {
    expect(spec.mode).toBe('schedule')
    expect(spec.schedule).toMatchObject({
      functionName: 'factlib-relay-test',
      intervalMinutes: 15,
      expression: 'rate(15 minutes)',
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      handler: 'index.handler',
      memoryMiB: 512,
      timeoutSeconds: 840,
      reservedConcurrency: 1,
      maximumRetryAttempts: 0,
      maximumEventAgeSeconds: 60,
    })
    // Every second one interval is guaranteed to be free of the previous run.
    expect(spec.schedule!.timeoutSeconds + spec.schedule!.maximumEventAgeSeconds).toBeLessThanOrEqual(900)
  })

  it('gives the function the container’s settings, checked by the relay’s parser, without a port or the URL', () => {
    const { NODE_OPTIONS, ...environment } = spec.schedule!.environment
    // The relay's young-generation bound, which it cannot set itself where the Lambda runtime starts Node.
    expect(NODE_OPTIONS).toBe('--max-semi-space-size=8')
    expect(unknownVariables(environment)).toEqual([])
    expect(environment).not.toHaveProperty('FACTLIB_HTTP_PORT')
    expect(environment).not.toHaveProperty('DATABASE_URL')
    expect(environment).toMatchObject({
      FACTLIB_SLOT: 'orders_slot',
      FACTLIB_SOURCES: 'orders,billing',
      FACTLIB_SINK: 'kafka',
      KAFKA_SASL: 'iam',
      FACTLIB_METRICS: 'emf',
    })
    expect(parseConfig({ ...environment, DATABASE_URL: `postgres://relay@${NEON_HOST}/app` })).toMatchObject({
      slot: 'orders_slot',
      metrics: 'emf',
    })
  })

  it('chooses the default interval per database: 15 minutes on Neon, 5 elsewhere', () => {
    expect(isNeonHost(NEON_HOST)).toBe(true)
    expect(isNeonHost('orders.abc.eu-west-1.rds.amazonaws.com')).toBe(false)
    expect(defaultIntervalMinutes(NEON_HOST)).toBe(15)
    expect(defaultIntervalMinutes(undefined)).toBe(5)
    const rds = relaySpec({ kafka, mode: 'schedule', databaseHost: 'orders.abc.eu-west-1.rds.amazonaws.com' })
    expect(rds.schedule).toMatchObject({
      expression: 'rate(5 minutes)',
      timeoutSeconds: 240,
      maximumEventAgeSeconds: 60,
    })
    const long = relaySpec({
      kafka,
      mode: 'schedule',
      schedule: { intervalMinutes: 120, timeoutSeconds: 600 },
    })
    expect(long.schedule).toMatchObject({
      expression: 'rate(120 minutes)',
      timeoutSeconds: 600,
      maximumEventAgeSeconds: 6600,
    })
    expect(
      relaySpec({ kafka, mode: 'schedule', schedule: { intervalMinutes: 60 } }).schedule?.timeoutSeconds,
    ).toBe(900)
  })

  it('refuses a schedule that keeps Neon awake, one near the removal of inactive slots, and a pooler, saying why', () => {
    const schedule = (intervalMinutes: number, databaseHost?: string) => () =>
      relaySpec({ kafka, mode: 'schedule', schedule: { intervalMinutes }, databaseHost })
    expect(schedule(5, NEON_HOST)).toThrow(
      `schedule.intervalMinutes 5: ${NEON_HOST} is a Neon host, and Neon suspends a compute only after 5 idle minutes, so a drain every 5 minutes keeps it awake for ever`,
    )
    expect(schedule(3, NEON_HOST)).toThrow(/Use more than 5 \(the default is 15\), or service mode/)
    expect(schedule(6, NEON_HOST)).not.toThrow()
    // Elsewhere 5 minutes is fine: the database runs anyway.
    expect(schedule(5)).not.toThrow()
    expect(schedule(1200, NEON_HOST)).not.toThrow()
    expect(schedule(1201, NEON_HOST)).toThrow(
      /at most 1200 \(20 hours\)\. Neon removes a replication slot that stays inactive for about 40 hours/,
    )
    expect(schedule(1201)).toThrow(/at most 1200/)
    expect(schedule(1)).toThrow(/at least 2/)
    expect(schedule(7.5)).toThrow(/whole number of minutes/)
    expect(() =>
      relaySpec({
        kafka,
        mode: 'schedule',
        databaseHost: NEON_HOST.replace('.eu-central', '-pooler.eu-central'),
      }),
    ).toThrow(`a pooler cannot carry a replication connection; use the direct host (${NEON_HOST})`)
    // In service mode too.
    expect(() =>
      relaySpec({ kafka, databaseHost: NEON_HOST.replace('.eu-central', '-pooler.eu-central') }),
    ).toThrow(/a pooler cannot carry a replication connection/)
  })

  it('refuses a timeout at or above the interval, or beyond Lambda’s 900 s', () => {
    const timeout = (intervalMinutes: number, timeoutSeconds: number) => () =>
      relaySpec({ kafka, mode: 'schedule', schedule: { intervalMinutes, timeoutSeconds } })
    expect(timeout(5, 300)).toThrow(/must be below the interval \(300 s\)/)
    expect(timeout(5, 299)).not.toThrow()
    expect(timeout(30, 901)).toThrow(/900 \(Lambda's limit\)/)
    expect(() => relaySpec({ kafka, mode: 'schedule', schedule: { memoryMiB: 64 } })).toThrow(/memoryMiB/)
  })
})

describe('alarms in schedule mode', () => {
  it('are exactly the table: relay metrics per interval, the function’s runs and errors instead of the heartbeat', () => {
    expect(spec.alarms.map((alarm) => alarm.key)).toEqual(Object.keys(EXPECTED_SCHEDULE_ALARMS))
    for (const alarm of spec.alarms)
      expect(alarm, alarm.key).toMatchObject(expectedAlarm(EXPECTED_SCHEDULE_ALARMS, alarm.key))
    expect(spec.metrics.periodSeconds).toBe(900)
    // Service mode keeps its heartbeat alarm and has none of the function's.
    expect(relaySpec(OPTIONS).alarms.map((alarm) => alarm.key)).toEqual(
      expect.arrayContaining(['heartbeatMissing']),
    )
    expect(relaySpec(OPTIONS).alarms.map((alarm) => alarm.key)).not.toContain('runsMissing')
  })

  it('evaluate a window longer than the interval, shortened to CloudWatch’s one day for long intervals', () => {
    const lag = spec.alarms.find((alarm) => alarm.key === 'slotLagSeconds')!
    expect(lag.evaluationPeriods * lag.periodSeconds).toBeGreaterThan(spec.schedule!.intervalMinutes * 60)
    const daily = relaySpec({ kafka, mode: 'schedule', schedule: { intervalMinutes: 1200 } })
    for (const alarm of daily.alarms) {
      expect(alarm.periodSeconds, alarm.key).toBe(72_000)
      expect(alarm.evaluationPeriods, alarm.key).toBe(1)
      expect(alarm.datapointsToAlarm, alarm.key).toBe(1)
    }
    const eightHours = relaySpec({ kafka, mode: 'schedule', schedule: { intervalMinutes: 480 } })
    expect(eightHours.alarms.find((alarm) => alarm.key === 'slotLagBytes')).toMatchObject({
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    })
    expect(() =>
      relaySpec({
        kafka,
        mode: 'schedule',
        schedule: { intervalMinutes: 600 },
        alarms: { lag: { datapointsToAlarm: 2, evaluationPeriods: 3 } },
      }),
    ).toThrow(/one day/)
    // An RDS instance keeps its per-minute backstops in either mode.
    const rds = relaySpec({ kafka, mode: 'schedule', database: { instanceIdentifier: 'orders-db' } })
    expect(rds.alarms.find((alarm) => alarm.key === 'databaseSlotLag')).toMatchObject({ periodSeconds: 60 })
  })
})

describe('the dashboard in schedule mode', () => {
  const refs = {
    region: 'eu-west-1',
    functionName: 'factlib-relay-test',
    alarmArns: Object.fromEntries(spec.alarms.map((alarm) => [alarm.key, `arn:alarm:${alarm.name}`])),
  }
  const body = dashboardBody(spec, refs)

  it('shows the function’s runs, errors and duration instead of tasks, CPU and memory', () => {
    expect(body.widgets.flatMap((widget) => widget.properties.title ?? [])).toEqual(EXPECTED_SCHEDULE_WIDGETS)
    expect(unknownRelayMetrics(spec, body)).toEqual([])
    const fn = ['FunctionName', 'factlib-relay-test']
    expect(
      widgetMetrics(body, 'Runs, errors and active readers').map((line) => [...line.slice(0, 4)]),
    ).toEqual([
      ['AWS/Lambda', 'Invocations', ...fn],
      ['AWS/Lambda', 'Errors', ...fn],
      ['AWS/Lambda', 'Throttles', ...fn],
      ['Factlib', 'Heartbeat', 'Slot', 'orders_slot'],
    ])
    const duration = body.widgets.find((widget) => widget.properties.title === 'Run duration (ms)')!
    expect(duration.properties.annotations).toEqual({
      horizontal: [expect.objectContaining({ label: 'timeout', value: 840_000 })],
    })
    for (const widget of body.widgets.filter((candidate) => candidate.type === 'metric'))
      expect(widget.properties.period).toBe(900)
    expect(body.widgets.find((widget) => widget.type === 'alarm')!.properties.alarms).toEqual(
      spec.alarms.map((alarm) => `arn:alarm:${alarm.name}`),
    )
    expect(() => dashboardBody(spec, { region: 'eu-west-1', alarmArns: {} })).toThrow(/functionName/)
  })
})

describe('deploy settings for schedule mode and the NAT step', () => {
  it('read FACTLIB_DEPLOY_MODE, _SCHEDULE_MINUTES, _DATABASE_HOST and _NAT, naming a bad one', () => {
    expect(
      readDeploySettings({
        FACTLIB_DEPLOY_MODE: 'schedule',
        FACTLIB_DEPLOY_SCHEDULE_MINUTES: '30',
        FACTLIB_DEPLOY_DATABASE_HOST: NEON_HOST,
        FACTLIB_DEPLOY_NAT: 'ec2',
        FACTLIB_DEPLOY_LAMBDA_BUNDLE: '/build/relay-lambda',
      }),
    ).toMatchObject({
      mode: 'schedule',
      scheduleMinutes: 30,
      databaseHost: NEON_HOST,
      nat: 'ec2',
      lambdaBundle: '/build/relay-lambda',
    })
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_MODE: 'cron' })).toThrow(/FACTLIB_DEPLOY_MODE/)
    expect(() =>
      readDeploySettings({ FACTLIB_DEPLOY_MODE: 'schedule', FACTLIB_DEPLOY_SCHEDULE_MINUTES: '15m' }),
    ).toThrow(/FACTLIB_DEPLOY_SCHEDULE_MINUTES/)
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_SCHEDULE_MINUTES: '15' })).toThrow(
      /FACTLIB_DEPLOY_MODE=schedule/,
    )
    expect(() => readDeploySettings({ FACTLIB_DEPLOY_NAT: 'yes' })).toThrow(/FACTLIB_DEPLOY_NAT/)
    expect(() =>
      readDeploySettings({
        FACTLIB_DEPLOY_NAT: 'none',
        FACTLIB_DEPLOY_VPC_ID: 'vpc-1',
        FACTLIB_DEPLOY_SUBNET_IDS: 'subnet-a',
        FACTLIB_DEPLOY_SECURITY_GROUP_IDS: 'sg-1',
      }),
    ).toThrow(/new VPC only/)
  })

  it('add a managed NAT gateway for schedule mode or a database outside AWS, with ec2 and none as escape hatches', () => {
    const nat = (env: Record<string, string>) => vpcNat(readDeploySettings(env))
    expect(nat({})).toBeUndefined()
    expect(nat({ FACTLIB_DEPLOY_MODE: 'schedule' })).toBe('managed')
    expect(nat({ FACTLIB_DEPLOY_DATABASE_HOST: NEON_HOST })).toBe('managed')
    expect(nat({ FACTLIB_DEPLOY_DATABASE_HOST: 'db.abcdefgh.supabase.co' })).toBe('managed')
    expect(nat({ FACTLIB_DEPLOY_DATABASE_HOST: 'orders.abc.eu-west-1.rds.amazonaws.com' })).toBeUndefined()
    expect(nat({ FACTLIB_DEPLOY_MODE: 'schedule', FACTLIB_DEPLOY_NAT: 'ec2' })).toBe('ec2')
    expect(nat({ FACTLIB_DEPLOY_MODE: 'schedule', FACTLIB_DEPLOY_NAT: 'none' })).toBeUndefined()
    expect(nat({ FACTLIB_DEPLOY_NAT: 'managed' })).toBe('managed')
    // An existing VPC routes its own subnets.
    expect(
      nat({
        FACTLIB_DEPLOY_MODE: 'schedule',
        FACTLIB_DEPLOY_VPC_ID: 'vpc-1',
        FACTLIB_DEPLOY_SUBNET_IDS: 'subnet-a',
        FACTLIB_DEPLOY_SECURITY_GROUP_IDS: 'sg-1',
      }),
    ).toBeUndefined()
  })
})
