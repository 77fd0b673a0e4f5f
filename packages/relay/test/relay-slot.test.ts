import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaUnavailable,
  privatePostgres,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { invalidateSlot } from './support/slot.js'

const stderrOf = (logs: Array<Record<string, unknown>>) =>
  logs.map((log) => String(log.raw ?? log.msg)).join('\n')

describe.skipIf(kafkaUnavailable())('slot lifecycle', () => {
  test('a dropped slot whose publication exists is refused without FACTLIB_CREATE_SLOT=force', async () => {
    const db = await freshDatabase()
    const env = relayEnv(db.url)
    const first = startRelayProcess(env)
    await first.waitForLog('streaming')
    expect(await first.stop()).toBe(0)
    await withClient(db.url, (client) =>
      client.query('select pg_drop_replication_slot($1)', [env.FACTLIB_SLOT]),
    )

    const refused = startRelayProcess(env)
    expect(await refused.exited).toBe(1)
    const said = stderrOf(refused.logs)
    expect(said).toContain(
      `publication "${env.FACTLIB_PUBLICATION}" exists but replication slot "${env.FACTLIB_SLOT}" does not`,
    )
    expect(said).toContain('FACTLIB_CREATE_SLOT=force')
    expect(said).toContain('[SLOT_MISSING]')

    const forced = startRelayProcess({ ...env, FACTLIB_CREATE_SLOT: 'force' })
    await forced.waitForLog('streaming')
    expect(
      forced.logs.some((log) => String(log.msg).includes('creating a new slot for an existing publication')),
    ).toBe(true)
    expect(await forced.stop()).toBe(0)
  })

  test('FACTLIB_CREATE_SLOT=false creates nothing and prints the SQL to run', async () => {
    const db = await freshDatabase()
    const env = relayEnv(db.url, { FACTLIB_CREATE_SLOT: 'false' })
    const relay = startRelayProcess(env)
    expect(await relay.exited).toBe(1)
    expect(stderrOf(relay.logs)).toContain(`CREATE PUBLICATION ${env.FACTLIB_PUBLICATION};`)
    expect(stderrOf(relay.logs)).toContain(
      `pg_create_logical_replication_slot('${env.FACTLIB_SLOT}', 'pgoutput', failover => true)`,
    )
    const created = await withClient(db.url, async (client) => ({
      slots: (
        await client.query('select 1 from pg_replication_slots where slot_name = $1', [env.FACTLIB_SLOT])
      ).rowCount,
      publications: (
        await client.query('select 1 from pg_publication where pubname = $1', [env.FACTLIB_PUBLICATION])
      ).rowCount,
    }))
    expect(created).toEqual({ slots: 0, publications: 0 })
  })

  test('two relays setting up the same slot at once: both end up using it, one as standby', async () => {
    const db = await freshDatabase()
    const env = relayEnv(db.url)
    const [a, b] = [startRelayProcess(env), startRelayProcess(env)]
    await Promise.all([a.waitForLog('relay started'), b.waitForLog('relay started')])
    await waitFor(
      'one to stream and one to wait',
      () =>
        [a, b].some((relay) => relay.logs.some((log) => log.msg === 'streaming')) &&
        [a, b].some((relay) => relay.logs.some((log) => String(log.msg).includes('hot standby'))),
    )
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0])
  })
})

describe.skipIf(kafkaUnavailable())('an invalidated slot', () => {
  const server = privatePostgres({ settings: { max_slot_wal_keep_size: '1MB' } })

  test('is reported (wal_status lost) and the relay exits non-zero', async () => {
    const env = relayEnv(server.url)
    const relay = startRelayProcess(env)
    await relay.waitForLog('streaming')
    await withClient(server.url, (client) =>
      createEmitter({ source: 'lost' }).emit(client, {
        aggregateType: 'x',
        aggregateId: '1',
        type: 't',
        data: 1,
      }),
    )
    // Frozen, the relay falls behind while PostgreSQL writes more WAL than max_slot_wal_keep_size allows.
    relay.kill('SIGSTOP')
    await invalidateSlot(server.url, env.FACTLIB_SLOT)
    relay.kill('SIGCONT')
    expect(await relay.exited).toBe(1)
    const failure = relay.logs.find(
      (log) => log.msg === 'relay failed' || log.msg === 'the replication slot was invalidated; exiting',
    )
    expect(JSON.stringify(failure)).toContain('SLOT_LOST')
    expect(JSON.stringify(failure)).toContain('wal_status = lost')

    const again = startRelayProcess(env)
    expect(await again.exited).toBe(1)
    expect(stderrOf(again.logs)).toContain('[SLOT_LOST]')
  })
})
