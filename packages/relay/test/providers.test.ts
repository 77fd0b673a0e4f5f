import { describe, expect, test } from 'vitest'
import { runCli, startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase } from '../../../test/harness/index.js'
import { scheduleMinutes } from '../src/cli/commands/doctor.js'
import { type CheckResult, checkHost, detectProvider } from '../src/wal/prerequisites.js'

const NEON_POOLED =
  'postgresql://alex:AbC123dEf@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/dbname?sslmode=require&channel_binding=require'
const NEON_DIRECT =
  'postgresql://alex:AbC123dEf@ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech/dbname?sslmode=require&channel_binding=require'

const byId = (checks: CheckResult[], id: string) => checks.find((check) => check.id === id)

describe('a pooler host is refused, with the direct endpoint to use', () => {
  test("Neon's -pooler host: the same name without -pooler, as a whole URL with the password hidden", () => {
    const pooler = byId(checkHost(NEON_POOLED), 'pooler')
    expect(pooler).toEqual({
      id: 'pooler',
      title: 'a direct connection (no pooler)',
      status: 'fail',
      detail:
        "ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech is Neon's pooled host (PgBouncer in " +
        'transaction mode), which cannot carry a replication connection',
      fix:
        'use the direct host ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech (the same name without -pooler): ' +
        `DATABASE_URL=${NEON_DIRECT.replace('AbC123dEf', '***')}`,
    })
    expect(JSON.stringify(checkHost(NEON_POOLED))).not.toContain('AbC123dEf')
  })

  test("Neon's direct host, and hosts that only look alike, are not poolers", () => {
    expect(byId(checkHost(NEON_DIRECT), 'pooler')).toBeUndefined()
    expect(checkHost('postgres://u@db-pooler.example.com/app')).toEqual([])
    expect(checkHost('postgres://u@localhost:5432/app')).toEqual([])
  })

  test("Supabase's shared pooler (Supavisor), transaction or session mode: db.<project-ref>.supabase.co:5432", () => {
    for (const port of ['6543', '5432']) {
      const url = `postgres://postgres.abcdefghijklmnop:s3cret@aws-0-eu-central-1.pooler.supabase.com:${port}/postgres`
      const pooler = byId(checkHost(url), 'pooler')
      expect(pooler?.status).toBe('fail')
      expect(pooler?.detail).toBe(
        `aws-0-eu-central-1.pooler.supabase.com:${port} is Supabase's shared pooler (Supavisor), which ` +
          'cannot carry a replication connection',
      )
      expect(pooler?.fix).toBe(
        'use the direct connection db.abcdefghijklmnop.supabase.co:5432 (IPv6 unless the project has the IPv4 ' +
          'add-on): DATABASE_URL=postgres://postgres:***@db.abcdefghijklmnop.supabase.co:5432/postgres',
      )
    }
  })

  test("Supabase's dedicated pooler (PgBouncer on 6543): the same host on 5432; the direct host passes", () => {
    const pooler = byId(
      checkHost('postgres://postgres:pw@db.abcdefghijklmnop.supabase.co:6543/postgres'),
      'pooler',
    )
    expect(pooler?.detail).toBe(
      "db.abcdefghijklmnop.supabase.co:6543 is Supabase's dedicated pooler (PgBouncer), which cannot carry a " +
        'replication connection',
    )
    expect(pooler?.fix).toContain(
      'DATABASE_URL=postgres://postgres:***@db.abcdefghijklmnop.supabase.co:5432/postgres',
    )
    expect(checkHost('postgres://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres')).toEqual([])
  })

  test('an RDS Proxy: the instance or cluster endpoint it fronts, and the command that names it', () => {
    const url = 'postgres://relay:pw@orders-proxy.proxy-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com:5432/app'
    expect(detectProvider(url)).toBe('rds')
    expect(byId(checkHost(url), 'pooler')).toEqual({
      id: 'pooler',
      title: 'a direct connection (no pooler)',
      status: 'fail',
      detail:
        'orders-proxy.proxy-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com is an RDS Proxy, which does not support ' +
        'replication connections',
      fix:
        'use the endpoint of the DB instance, or the Aurora cluster (writer) endpoint, that the proxy fronts ' +
        '(aws rds describe-db-proxy-targets --db-proxy-name orders-proxy --region eu-west-1 names it)',
    })
    const custom = 'postgres://relay@reads.endpoint.proxy-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com/app'
    expect(byId(checkHost(custom), 'pooler')?.fix).toContain(
      '--db-proxy-name <proxy name> --region eu-west-1',
    )
    for (const direct of [
      'postgres://relay@orders.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com/app',
      'postgres://relay@orders.cluster-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com/app',
    ])
      expect(checkHost(direct)).toEqual([])
  })
})

describe("Neon's scale to zero and its removal of inactive slots", () => {
  const neon = (minutes?: number) =>
    byId(checkHost(NEON_DIRECT, { scheduleMinutes: minutes }), 'scale_to_zero')

  test('no schedule given: an always-on relay keeps the compute awake; drain mode on a schedule is the way out', () => {
    expect(neon()).toEqual({
      id: 'scale_to_zero',
      title: 'Neon scale to zero',
      status: 'warn',
      detail:
        'Neon does not scale a compute to zero while a replication client is connected: an always-on relay ' +
        'keeps it awake, and billed, around the clock',
      fix:
        'to let it scale to zero, run factlib relay --drain on a schedule (the infra schedule mode) and give ' +
        'its interval as FACTLIB_SCHEDULE_MINUTES; FACTLIB_SCHEDULE_MINUTES=0 says the relay is always on by choice',
    })
    expect(checkHost('postgres://u@localhost/app')).toEqual([])
  })

  test('0: always on by choice passes', () => {
    expect(neon(0)?.status).toBe('pass')
    expect(neon(0)?.detail).toBe(
      'an always-on relay (FACTLIB_SCHEDULE_MINUTES=0): the compute stays awake while it is connected',
    )
  })

  test('a drain every 5 minutes or less never lets the compute suspend', () => {
    expect(neon(5)).toMatchObject({
      status: 'warn',
      detail:
        "a drain every 5 minutes wakes the compute before its 5 idle minutes (Neon's default) pass, so it " +
        'never scales to zero',
      fix: "drain less often than the compute's scale-to-zero delay, e.g. every 15 minutes",
    })
  })

  test('every 15 minutes or every 12 hours passes', () => {
    expect(neon(15)).toMatchObject({
      status: 'pass',
      detail:
        'a drain every 15 minutes: the compute can scale to zero between runs, and the slot is read well ' +
        "inside Neon's ~40-hour removal of inactive slots",
    })
    expect(neon(12 * 60)?.status).toBe('pass')
  })

  test('longer than the ~40-hour window: the slot is removed between runs', () => {
    expect(neon(48 * 60)).toMatchObject({
      status: 'warn',
      detail:
        'a drain every 48 hours leaves the slot inactive longer than the ~40 hours after which Neon removes ' +
        'inactive replication slots: facts committed before the removal are never relayed',
      fix: 'drain well inside 40 hours, e.g. every 15 to 60 minutes',
    })
  })

  test('longer than half the window: one failed run is enough to lose the slot', () => {
    expect(neon(24 * 60)).toMatchObject({
      status: 'warn',
      detail:
        'a drain every 24 hours: one failed run leaves the slot inactive past the ~40 hours after which Neon ' +
        'removes inactive replication slots, losing the facts it held',
    })
  })

  test('--schedule-minutes and FACTLIB_SCHEDULE_MINUTES take whole minutes', () => {
    expect(scheduleMinutes('15')).toBe(15)
    expect(scheduleMinutes(' 0 ')).toBe(0)
    expect(() => scheduleMinutes('15m')).toThrow(
      '--schedule-minutes (FACTLIB_SCHEDULE_MINUTES) is "15m"; expected whole minutes, 0 or more',
    )
    expect(() => scheduleMinutes('-1')).toThrow('expected whole minutes')
  })
})

/**
 * Neon's pooled host name, with `?host=` (which libpq and node-postgres let override the URL's host)
 * pointing the connection at the test PostgreSQL: the refusal must come from the host name alone.
 */
function asNeonPooler(databaseUrl: string): string {
  const url = new URL(databaseUrl)
  url.searchParams.set('host', url.hostname)
  url.hostname = 'ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech'
  return url.toString()
}

describe('the refusal through the CLI', () => {
  test.each([[[]], [['--drain']]])(
    'factlib relay %j refuses a pooler host at start, naming the direct host',
    async (args) => {
      const db = await freshDatabase()
      const relay = startRelayProcess({ DATABASE_URL: asNeonPooler(db.url), FACTLIB_SINK: 'stdout' }, args)
      expect(await relay.exited).toBe(1)
      const said = relay.logs.map((log) => String(log.raw ?? log.msg)).join('\n')
      expect(said).toContain('[PREREQUISITE_POOLER]')
      expect(said).toContain(
        "a direct connection (no pooler): ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech is Neon's pooled host",
      )
      expect(said).toContain('Fix: use the direct host ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech')
    },
  )

  test('doctor --json fails the pooler check first and explains scale to zero; setup creates nothing', async () => {
    const db = await freshDatabase()
    const env = { DATABASE_URL: asNeonPooler(db.url), FACTLIB_SINK: 'stdout' }
    const doctor = await runCli(['doctor', '--json'], { env })
    expect(doctor.code).toBe(1)
    const { ok, checks } = JSON.parse(doctor.stdout) as { ok: boolean; checks: CheckResult[] }
    expect(ok).toBe(false)
    expect(checks[0]).toMatchObject({ id: 'pooler', status: 'fail' })
    expect(checks[0]?.fix).toContain('use the direct host ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech')
    expect(byId(checks, 'scale_to_zero')?.status).toBe('warn')
    expect(checks.filter((check) => check.id === 'pooler')).toHaveLength(1)

    const scheduled = await runCli(['doctor', '--json', '--schedule-minutes', '3000'], { env })
    expect(byId(JSON.parse(scheduled.stdout).checks, 'scale_to_zero')?.detail).toContain(
      'a drain every 50 hours leaves the slot inactive longer than the ~40 hours',
    )

    const setup = await runCli(['setup', '--json'], { env })
    expect(setup.code).toBe(1)
    const result = JSON.parse(setup.stdout)
    expect(result.created).toEqual({ publication: false, slot: false })
    expect(byId(result.checks, 'pooler')?.status).toBe('fail')
  })
})
