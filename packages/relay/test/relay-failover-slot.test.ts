import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { runCli, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { enableSlotFailover } from '../src/wal/failover.js'

interface Check {
  id: string
  status: 'pass' | 'warn' | 'fail'
  detail: string
  fix?: string
}
const checksOf = (stdout: string) =>
  Object.fromEntries((JSON.parse(stdout) as { checks: Check[] }).checks.map((check) => [check.id, check]))

/** A relay with the stdout sink and its own slot and publication. */
const stdoutEnv = (databaseUrl: string, extra: Record<string, string> = {}) => ({
  DATABASE_URL: databaseUrl,
  FACTLIB_SINK: 'stdout',
  FACTLIB_SLOT: uniqueName('slot'),
  FACTLIB_PUBLICATION: uniqueName('pub'),
  ...extra,
})

const failoverOf = (url: string, slot: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ failover: boolean }>(
      'select failover from pg_replication_slots where slot_name = $1',
      [slot],
    )
    return rows[0]?.failover
  })

describe('failover slots (PostgreSQL 18)', () => {
  test('a slot made without failover is turned into a failover slot in place when the relay starts', async () => {
    const db = await freshDatabase('failover')
    const env = stdoutEnv(db.url)
    await withClient(db.url, async (client) => {
      await client.query(`create publication ${env.FACTLIB_PUBLICATION}`)
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [env.FACTLIB_SLOT])
    })
    expect(await failoverOf(db.url, env.FACTLIB_SLOT)).toBe(false)
    const relay = startRelayProcess(env)
    await relay.waitForLog('streaming')
    expect(
      relay.logs.some((log) => String(log.msg).startsWith('turned failover on for the replication slot')),
    ).toBe(true)
    expect(await failoverOf(db.url, env.FACTLIB_SLOT)).toBe(true)
    expect(await relay.stop()).toBe(0)
  })

  test('FACTLIB_SLOT_FAILOVER=false creates a plain slot, and a relay that finds the slot held only warns', async () => {
    const db = await freshDatabase('failover')
    const env = stdoutEnv(db.url, { FACTLIB_SLOT_FAILOVER: 'false' })
    const plain = startRelayProcess(env)
    await plain.waitForLog('streaming')
    expect(await failoverOf(db.url, env.FACTLIB_SLOT)).toBe(false)
    const { stdout } = await runCli(['doctor', '--json'], { env })
    expect(checksOf(stdout).failover).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('failover = false (FACTLIB_SLOT_FAILOVER=false)'),
    })

    // A second relay that wants failover cannot change a slot another reader holds: it says so and waits.
    const second = startRelayProcess({ ...env, FACTLIB_SLOT_FAILOVER: 'true' })
    const warned = await second.waitForLog(
      'could not turn failover on for the replication slot; a promoted standby would not have it',
    )
    expect(String(warned.error)).toMatch(/is active for PID \d+/)
    await second.waitForLog(/hot standby/)
    // PostgreSQL's ALTER_REPLICATION_SLOT waits while the slot is in use: the relay gives up instead.
    await expect(enableSlotFailover(db.url, env.FACTLIB_SLOT, 300)).rejects.toThrow(
      `replication slot "${env.FACTLIB_SLOT}" was taken by another reader while being changed`,
    )
    expect(await failoverOf(db.url, env.FACTLIB_SLOT)).toBe(false)
    expect(await Promise.all([second.stop(), plain.stop()])).toEqual([0, 0])
  })
})

describe('a standby named in synchronized_standby_slots that is down', () => {
  const server = privatePostgres()

  test('holds the relay back, and doctor says so with the fix', async () => {
    const standbySlot = uniqueName('standby')
    await withClient(server.url, async (client) => {
      await client.query('select pg_create_physical_replication_slot($1)', [standbySlot])
      await client.query(`alter system set synchronized_standby_slots = '${standbySlot}'`)
      await client.query('select pg_reload_conf()')
    })
    const env = stdoutEnv(server.url)
    const setup = await runCli(
      ['setup', '--json', '--standby-url', 'postgres://postgres:postgres@127.0.0.1:1/postgres'],
      {
        env,
      },
    )
    expect(setup.code).toBe(0)
    const checks = checksOf(setup.stdout)
    expect(checks.failover).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('failover = true'),
    })
    expect(checks.standby_slots).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining(
        `${standbySlot} is inactive: logical decoding waits for every slot named here`,
      ),
      fix: expect.stringContaining("ALTER SYSTEM SET synchronized_standby_slots = ''"),
    })
    expect(checks.standby_copy).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('could not reach'),
    })

    const relay = startRelayProcess({ ...env, FACTLIB_CREATE_SLOT: 'false' })
    await relay.waitForLog('streaming')
    const fact = await withClient(server.url, (client) =>
      createEmitter({ source: 'held' }).emit(client, {
        aggregateType: 'x',
        aggregateId: '1',
        type: 't',
        data: 1,
      }),
    )
    // The relay's walsender waits for the absent standby, and the fact stays in the WAL.
    await waitFor('the walsender to wait for the standby', () =>
      withClient(server.url, async (client) => {
        const { rows } = await client.query<{ wait_event: string | null }>(
          `select a.wait_event from pg_stat_activity a join pg_replication_slots s on s.active_pid = a.pid
            where s.slot_name = $1`,
          [env.FACTLIB_SLOT],
        )
        return rows[0]?.wait_event === 'WaitForStandbyConfirmation'
      }),
    )
    expect(relay.stdout.some((line) => line.includes(fact.id))).toBe(false)
    // Removing the standby from the setting (the fix) lets the fact through.
    await withClient(server.url, async (client) => {
      await client.query('alter system reset synchronized_standby_slots')
      await client.query('select pg_reload_conf()')
    })
    await waitFor('the held fact to be relayed', () => relay.stdout.some((line) => line.includes(fact.id)))
    expect(await relay.stop()).toBe(0)
  })
})
