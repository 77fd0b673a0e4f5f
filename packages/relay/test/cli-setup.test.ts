import { describe, expect, test } from 'vitest'
import { runCli, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  privatePostgres,
  uniqueName,
  withClient,
} from '../../../test/harness/index.js'

interface Check {
  id: string
  title: string
  status: 'pass' | 'warn' | 'fail'
  detail: string
  fix?: string
  fixes?: Array<{ provider: string; name: string; fix: string }>
}
const parse = (stdout: string) =>
  JSON.parse(stdout) as {
    ok: boolean
    checks: Check[]
    created?: object
    sql: { setup: string[]; role: string[] }
  }
const byId = (checks: Check[]) => Object.fromEntries(checks.map((check) => [check.id, check]))

/** What exists in the database: slots and publications. */
const inventory = (url: string) =>
  withClient(url, async (client) => ({
    slots: (
      await client.query<{ slot_name: string }>(
        'select slot_name from pg_replication_slots where database = current_database()',
      )
    ).rows.map((r) => r.slot_name),
    publications: (await client.query<{ pubname: string }>('select pubname from pg_publication')).rows.map(
      (r) => r.pubname,
    ),
  }))

describe('setup and doctor against a PostgreSQL with wal_level=replica', () => {
  const replica = privatePostgres({ settings: { wal_level: 'replica' } })

  test('doctor reports the failing check with its fix and exits 1', async () => {
    const env = { DATABASE_URL: replica.url }
    const table = await runCli(['doctor'], { env })
    expect(table.code).toBe(1)
    expect(table.stdout).toMatch(/✗ FAIL {2}wal_level = logical +wal_level is 'replica'/)
    expect(table.stdout).toMatch(
      /\n( +)fix: set wal_level = logical \(ALTER SYSTEM SET wal_level = 'logical'\) and restart PostgreSQL\n\1 {5}RDS: set rds\.logical_replication = 1 in the DB parameter group.*\n\1 {5}Aurora: .*\n\1 {5}Neon: .*\n\1 {5}Supabase: .*\n\1 {5}Cloud SQL: set the database flag cloudsql\.logical_decoding = on/,
    )
    expect(table.stdout).toMatch(/\n1 of \d+ checks failed/)

    const { code, stdout } = await runCli(['doctor', '--json'], { env })
    expect(code).toBe(1)
    const { ok, checks } = parse(stdout)
    expect(ok).toBe(false)
    expect(checks.filter((check) => check.status === 'fail').map((check) => check.id)).toEqual(['wal_level'])
    const walLevel = byId(checks).wal_level!
    for (const provider of [
      'Neon: enable logical replication',
      'Supabase:',
      'Cloud SQL: set the database flag cloudsql.logical_decoding = on',
      'Aurora: set rds.logical_replication = 1 in the DB cluster parameter group',
    ])
      expect(walLevel.fix).toContain(provider)
    // The same fixes as data, one per provider: what the table prints one line each.
    const [selfManaged, ...managed] = walLevel.fixes ?? []
    expect(selfManaged?.fix).toBe(
      "set wal_level = logical (ALTER SYSTEM SET wal_level = 'logical') and restart PostgreSQL",
    )
    expect(managed).toHaveLength(5)
    for (const { name, fix } of managed) expect(walLevel.fix).toContain(`${name}: ${fix}`)
    for (const id of ['connection', 'version', 'encoding', 'replication', 'capacity'])
      expect(byId(checks)[id]?.status).toBe('pass')
  })

  test('setup creates nothing, prints what to change and the SQL it would run, and exits 1', async () => {
    const { code, stdout, stderr } = await runCli(
      ['setup', '--slot', 'never_made', '--publication', 'never_made'],
      {
        env: { DATABASE_URL: replica.url },
      },
    )
    expect(stderr).toBe('')
    expect(code).toBe(1)
    expect(stdout).toContain('is not ready; nothing was created. Fix this first:')
    expect(stdout).toContain(
      "fix: set wal_level = logical (ALTER SYSTEM SET wal_level = 'logical') and restart PostgreSQL",
    )
    expect(stdout).toContain(
      "  CREATE PUBLICATION never_made;\n  SELECT pg_create_logical_replication_slot('never_made', 'pgoutput', failover => true);",
    )
    expect(await inventory(replica.url)).toEqual({ slots: [], publications: [] })
  })
})

describe('setup and doctor against a healthy PostgreSQL', () => {
  test('setup creates the publication and slot once, then a least-privilege relay passes every doctor check', {
    timeout: 90_000,
  }, async () => {
    const db = await freshDatabase('cli_setup')
    const slot = uniqueName('slot')
    const publication = uniqueName('pub')
    const names = ['--slot', slot, '--publication', publication]
    const first = await runCli(['setup', ...names, '--role', 'orders_relay'], {
      env: { DATABASE_URL: db.url },
    })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    // The five prerequisites, then whether a promotion keeps the slot (no standby here: nothing to protect).
    expect(first.stdout).toContain('All 7 checks passed.')
    expect(first.stdout).toContain(`Created publication "${publication}".`)
    expect(first.stdout).toMatch(
      new RegExp(`Created replication slot "${slot}" \\(pgoutput\\) at [0-9A-F]+/[0-9A-F]+`),
    )
    expect(first.stdout).toContain(
      'It is a failover slot: standbys running sync_replication_slots = on keep it',
    )
    expect(first.stdout).toMatch(
      /✓ pass {2}slot kept through a failover +failover = true: .*no streaming standby is attached/,
    )
    expect(first.stdout).toContain('CREATE ROLE orders_relay WITH LOGIN REPLICATION')
    expect(first.stdout).toContain(`GRANT CONNECT ON DATABASE ${db.name} TO orders_relay;`)
    expect(await inventory(db.url)).toEqual({ slots: [slot], publications: [publication] })

    const again = await runCli(['setup', ...names, '--json'], { env: { DATABASE_URL: db.url } })
    expect(again.code).toBe(0)
    const report = parse(again.stdout)
    expect(report.created).toEqual({ publication: false, slot: false })

    // The printed role SQL, as an administrator would run it, is all the relay needs.
    const role = uniqueName('relay')
    const password = uniqueName('pw')
    await withClient(db.url, async (client) => {
      for (const statement of report.sql.role.filter((line) => !line.startsWith('--')))
        await client.query(
          statement.replaceAll('factlib_relay', role).replace('<choose a password>', password),
        )
    })
    const asRelay = new URL(db.url)
    asRelay.username = role
    asRelay.password = password
    const relay = startRelayProcess({
      DATABASE_URL: asRelay.toString(),
      FACTLIB_SINK: 'stdout',
      FACTLIB_SLOT: slot,
      FACTLIB_PUBLICATION: publication,
      FACTLIB_CREATE_SLOT: 'false',
    })
    await relay.waitForLog('streaming')

    const kafka: Record<string, string> = kafkaUnavailable()
      ? {}
      : { KAFKA_BROKERS: kafkaBrokers().join(','), FACTLIB_DLQ_TOPIC: uniqueName('dlq') }
    const doctor = await runCli(['doctor', ...names, '--json'], {
      env: { DATABASE_URL: asRelay.toString(), ...kafka },
    })
    const { ok, checks } = parse(doctor.stdout)
    expect(checks.filter((check) => check.status !== 'pass')).toEqual([])
    expect(ok).toBe(true)
    expect(doctor.code).toBe(0)
    expect(checks.map((check) => check.id)).toEqual([
      'connection',
      'version',
      'wal_level',
      'encoding',
      'replication',
      'capacity',
      'slot',
      'slot_active',
      'wal_status',
      'retained_wal',
      'publication',
      'privileges',
      'failover',
      'standby_slots',
      ...(kafkaUnavailable() ? [] : ['kafka', 'kafka_topics']),
    ])
    expect(byId(checks).replication?.detail).toBe(`role ${role} (REPLICATION)`)

    const table = await runCli(['doctor', ...names], { env: { DATABASE_URL: asRelay.toString(), ...kafka } })
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(new RegExp(`\\n\\nAll ${checks.length} checks passed\\.\\n$`))

    const busy = await runCli(['setup', ...names, '--drop'], { env: { DATABASE_URL: db.url } })
    expect(busy.code).toBe(1)
    expect(busy.stderr).toMatch(
      /is streamed by server process \d+ \(a relay\): stop it first \[SLOT_ACTIVE\]\n$/,
    )
    expect(await relay.stop()).toBe(0)
    const dropped = await runCli(['setup', ...names, '--drop', '--json'], { env: { DATABASE_URL: db.url } })
    expect(dropped.code).toBe(0)
    expect(JSON.parse(dropped.stdout)).toEqual({ dropped: { slot: true, publication: true } })
    expect(await inventory(db.url)).toEqual({ slots: [], publications: [] })
    await withClient(db.url, (client) => client.query(`drop owned by ${role}; drop role ${role}`))
  })

  test('doctor reports each failing check with its fix: no REPLICATION, nothing set up, Kafka unreachable', async () => {
    const db = await freshDatabase('cli_doctor')
    const slot = uniqueName('slot')
    const publication = uniqueName('pub')
    const role = uniqueName('app')
    await withClient(db.url, (client) => client.query(`create role ${role} login password 'app-secret'`))
    const url = new URL(db.url)
    url.username = role
    url.password = 'app-secret'
    const { code, stdout } = await runCli(['doctor', '--json'], {
      env: {
        DATABASE_URL: url.toString(),
        KAFKA_BROKERS: '127.0.0.1:1',
        FACTLIB_SLOT: slot,
        FACTLIB_PUBLICATION: publication,
      },
    })
    expect(code).toBe(1)
    expect(stdout).not.toContain('app-secret')
    const checks = byId(parse(stdout).checks)
    expect(checks.replication).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(`ALTER ROLE ${role} WITH REPLICATION;`),
    })
    expect(checks.replication?.fix).toContain(`GRANT rds_replication TO ${role};`)
    expect(checks.slot).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('not created yet'),
      fix: expect.stringContaining('factlib setup'),
    })
    expect(checks.publication).toMatchObject({
      status: 'fail',
      detail: `missing, and role ${role} may not create it`,
    })
    expect(checks.privileges).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(`GRANT CREATE ON DATABASE ${db.name} TO ${role};`),
    })
    expect(checks.kafka).toMatchObject({ status: 'fail', detail: expect.stringContaining('127.0.0.1:1') })
    expect(checks.kafka?.fix).toContain('check KAFKA_BROKERS')
    expect(checks.slot_active).toBeUndefined()
    for (const check of Object.values(checks))
      if (check.status !== 'pass') expect(check.fix, check.id).toBeTruthy()
    await withClient(db.url, (client) => client.query(`drop role ${role}`))
  })

  test('MSK IAM without AWS credentials fails with the fix before Kafka is contacted', async () => {
    const db = await freshDatabase('cli_iam')
    const { code, stdout } = await runCli(['doctor', '--json'], {
      env: {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: '127.0.0.1:1',
        KAFKA_SASL: 'iam',
        AWS_REGION: 'eu-west-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: '/nonexistent',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      },
    })
    expect(code).toBe(1)
    const checks = byId(parse(stdout).checks)
    expect(checks.msk_iam).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('kafka-cluster:Connect'),
    })
    expect(checks.msk_iam?.detail).toContain('eu-west-1')
    expect(checks.kafka).toBeUndefined()
  })

  test('setup --dry-run prints the SQL for the provider without connecting', async () => {
    const rds = await runCli(['setup', '--dry-run', '--slot', 'orders', '--publication', 'orders_pub'], {
      env: { DATABASE_URL: 'postgres://admin:pw@app.abc123.eu-west-1.rds.amazonaws.com:5432/shop' },
    })
    expect(rds.code).toBe(0)
    expect(rds.stdout).toBe(
      [
        '-- factlib setup: as a role with REPLICATION and CREATE on the database (an administrator)',
        '-- before PostgreSQL 17, without ", failover => true" (failover slots need 17)',
        'CREATE PUBLICATION orders_pub;',
        "SELECT pg_create_logical_replication_slot('orders', 'pgoutput', failover => true);",
        '',
        '-- a least-privilege role for the relay',
        "CREATE ROLE factlib_relay WITH LOGIN PASSWORD '<choose a password>';",
        'GRANT rds_replication TO factlib_relay;',
        'GRANT CONNECT ON DATABASE shop TO factlib_relay;',
        '',
      ].join('\n'),
    )
    const plain = await runCli(['setup', '--dry-run', '--json'])
    expect(plain.code).toBe(0)
    expect(JSON.parse(plain.stdout).sql.role).toContain(
      'GRANT CONNECT ON DATABASE <database> TO factlib_relay;',
    )
  })
})
