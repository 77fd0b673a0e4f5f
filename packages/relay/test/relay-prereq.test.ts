import { describe, expect, test } from 'vitest'
import { startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase, privatePostgres, uniqueName, withClient } from '../../../test/harness/index.js'

const stderrOf = (logs: Array<Record<string, unknown>>) =>
  logs.map((log) => String(log.raw ?? log.msg)).join('\n')

describe('misconfiguration is detected at start and explained', () => {
  const replica = privatePostgres({ settings: { wal_level: 'replica' } })

  test('wal_level other than logical', async () => {
    const relay = startRelayProcess({ DATABASE_URL: replica.url, FACTLIB_SINK: 'stdout' })
    expect(await relay.exited).toBe(1)
    const said = stderrOf(relay.logs)
    expect(said).toContain("wal_level is 'replica'")
    expect(said).toContain("ALTER SYSTEM SET wal_level = 'logical'")
    expect(said).toContain('rds.logical_replication = 1')
    expect(said).toContain('[PREREQUISITE_WAL_LEVEL]')
  })

  test('a role without the REPLICATION privilege', async () => {
    const db = await freshDatabase()
    const role = uniqueName('app')
    await withClient(db.url, async (client) => {
      await client.query(`create role ${role} login password 'secret-pw'`)
      await client.query(`grant create on database ${db.name} to ${role}`)
    })
    const url = new URL(db.url)
    url.username = role
    url.password = 'secret-pw'
    const relay = startRelayProcess({ DATABASE_URL: url.toString(), FACTLIB_SINK: 'stdout' })
    expect(await relay.exited).toBe(1)
    const said = stderrOf(relay.logs)
    expect(said).toContain(`role ${role} (no REPLICATION attribute) cannot open a replication connection`)
    expect(said).toContain(`ALTER ROLE ${role} WITH REPLICATION;`)
    expect(said).toContain(`GRANT rds_replication TO ${role};`)
    expect(said).not.toContain('secret-pw')
    await withClient(db.url, (client) => client.query(`drop owned by ${role}; drop role ${role}`)).catch(
      () => {},
    )
  })

  const full = privatePostgres({ settings: { max_replication_slots: 1 } })
  test('no free replication slot', async () => {
    await withClient(full.url, (client) =>
      client.query(`select pg_create_logical_replication_slot('taken', 'pgoutput')`),
    )
    const relay = startRelayProcess({ DATABASE_URL: full.url, FACTLIB_SINK: 'stdout' })
    expect(await relay.exited).toBe(1)
    const said = stderrOf(relay.logs)
    expect(said).toContain('cannot create replication slot "factlib"')
    expect(said).toContain('raise max_replication_slots')
    expect(said).toContain('[SLOT_LIMIT]')
  })

  test('an unreachable database, without printing the password', async () => {
    const relay = startRelayProcess({
      DATABASE_URL: 'postgres://relay:hunter2@127.0.0.1:1/app',
      FACTLIB_SINK: 'stdout',
    })
    expect(await relay.exited).toBe(1)
    const said = stderrOf(relay.logs)
    expect(said).toContain('cannot connect to postgres://relay:***@127.0.0.1:1/app')
    expect(said).toContain('check the host and port')
    expect(said).not.toContain('hunter2')
  })

  test('an unreachable Kafka', async () => {
    const db = await freshDatabase()
    const relay = startRelayProcess({
      DATABASE_URL: db.url,
      KAFKA_BROKERS: '127.0.0.1:1',
      FACTLIB_SLOT: uniqueName('slot'),
      FACTLIB_PUBLICATION: uniqueName('pub'),
    })
    expect(await relay.exited).toBe(1)
    expect(stderrOf(relay.logs)).toMatch(/127\.0\.0\.1:1/)
    expect(stderrOf(relay.logs)).toContain('[KAFKA_UNREACHABLE]')
  }, 90_000)

  test.each([
    [{}, 'DATABASE_URL (--database-url) is not set'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL (--database-url) is "mysql://x"'],
    [{ DATABASE_URL: 'postgres://x/db' }, 'FACTLIB_SINK (--sink) is not set; set KAFKA_BROKERS'],
    [
      { DATABASE_URL: 'postgres://x/db', FACTLIB_SINK: 'file' },
      'FACTLIB_SINK (--sink) is "file"; expected one of: kafka, stdout',
    ],
    [
      { DATABASE_URL: 'postgres://x/db', FACTLIB_SINK: 'stdout', FACTLIB_SLOT: 'Bad-Slot' },
      'FACTLIB_SLOT (--slot) is "Bad-Slot"',
    ],
    [
      { DATABASE_URL: 'postgres://x/db', KAFKA_BROKERS: 'k:9092', FACTLIB_TOPIC_PARTITIONS: '0' },
      'FACTLIB_TOPIC_PARTITIONS',
    ],
    [
      { DATABASE_URL: 'postgres://x/db', KAFKA_BROKERS: 'k:9092', KAFKA_SASL: 'plain' },
      'KAFKA_SASL=plain needs KAFKA_USERNAME',
    ],
    [
      { DATABASE_URL: 'postgres://x/db', KAFKA_BROKERS: 'nohost' },
      'KAFKA_BROKERS (--kafka-brokers) is "nohost"; expected host:port',
    ],
  ] as Array<[Record<string, string>, string]>)(
    'invalid configuration %j names the variable',
    async (env, expected) => {
      const relay = startRelayProcess({ FACTLIB_HTTP_PORT: '0', ...env })
      expect(await relay.exited).toBe(2)
      const said = stderrOf(relay.logs)
      expect(said).toContain(expected)
      expect(said.split('\n')).toHaveLength(1)
    },
  )

  test('an unknown flag is a one-line usage error', async () => {
    const relay = startRelayProcess({}, ['--no-such-flag'])
    expect(await relay.exited).toBe(2)
    expect(stderrOf(relay.logs)).toMatch(
      /^factlib relay: Unknown option '--no-such-flag'.*see factlib relay --help/,
    )
  })
})
