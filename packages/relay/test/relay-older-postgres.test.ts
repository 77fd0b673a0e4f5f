import { createEmitter } from '@factlib/emit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { relayEnv, runCli, startRelayProcess } from '../../../test/harness/cli.js'
import { kafkaUnavailable, uniqueName, waitFor, withClient } from '../../../test/harness/index.js'
import {
  type OlderPostgres,
  type OlderRelease,
  olderReleaseBinaries,
  startOlderPostgres,
} from '../../../test/harness/older-postgres.js'
import { pairBehindProxy } from '../../../test/harness/standby.js'
import { parseLsn } from '../src/wal/lsn.js'
import { drain, factIdsIn, summaryOf } from './support/drain.js'
import { confirmedFlush } from './support/slot.js'

// The relay supports PostgreSQL 14 and later; everything else runs against 18. These run the whole path
// (setup, stream, confirm, drain, a service relay's shutdown) against the oldest release and the last one
// without failover slots.
const RELEASES: OlderRelease[] = [14, 16]
const missing = new Map<OlderRelease, string>()
for (const release of RELEASES) {
  const found = await olderReleaseBinaries(release)
  if ('missing' in found) missing.set(release, found.missing)
}
// In CI they must run; elsewhere (another platform) a missing release is skipped, saying why.
const isCI = process.env.CI === 'true' || process.env.CI === '1'
if (isCI && missing.size > 0) throw new Error([...missing.values()].join('; '))
for (const why of missing.values()) console.warn(`skipping an older PostgreSQL release: ${why}`)

/**
 * `count` transactions of one order row and one fact, committed, then one rolled back. `beforeLastCommit`:
 * the WAL position just before the last commit, which a confirmation of every kept fact passes.
 */
async function placeOrders(url: string, source: string, count: number) {
  const facts = createEmitter({ source })
  return withClient(url, async (client) => {
    await client.query('create table if not exists orders (id serial primary key, total int not null)')
    const kept: string[] = []
    let beforeLastCommit = ''
    for (let index = 0; index < count; index++) {
      await client.query('begin')
      await client.query('insert into orders (total) values ($1)', [index])
      const fact = await facts.emit(client, {
        aggregateType: 'order',
        aggregateId: `o${index % 3}`,
        type: 'order.placed',
        data: { index },
      })
      const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
      beforeLastCommit = rows[0]?.lsn ?? ''
      await client.query('commit')
      kept.push(fact?.id ?? '')
    }
    await client.query('begin')
    const rolledBack = await facts.emit(client, {
      aggregateType: 'order',
      aggregateId: 'o0',
      type: 'order.placed',
      data: { rolledBack: true },
    })
    await client.query('rollback')
    return { kept, rolledBack: rolledBack.id, beforeLastCommit }
  })
}

describe.skipIf(kafkaUnavailable())('the relay on older PostgreSQL releases', () => {
  describe.each(RELEASES)('PostgreSQL %i', (release) => {
    if (missing.has(release)) {
      test.skip(missing.get(release) ?? '', () => {})
      return
    }
    let server: OlderPostgres
    beforeAll(async () => {
      server = await startOlderPostgres(release)
    })
    afterAll(() => server?.destroy())

    test('doctor passes and names the failover limit; a drain relays what committed, confirms its end, and the next run goes on from there', async () => {
      const source = uniqueName(`pg${release}`)
      const env = relayEnv(server.url, { FACTLIB_SOURCES: source })
      const version = await withClient(server.url, async (client) => {
        const { rows } = await client.query<{ v: number }>(
          `select current_setting('server_version_num')::int as v`,
        )
        return rows[0]?.v ?? 0
      })
      expect(Math.floor(version / 10_000)).toBe(release)

      const empty = await drain(env)
      expect(empty.code, empty.stderr).toBe(0)
      // With the slot made, doctor passes and says what this release cannot do: keep it through a failover.
      const doctor = await runCli(['doctor'], { env })
      expect(doctor.code, `${doctor.stdout}${doctor.stderr}`).toBe(0)
      expect(doctor.stdout).toMatch(/slot kept through a failover\s+PostgreSQL 1[46]\.\d+ cannot synchronize/)
      const first = await placeOrders(server.url, source, 30)
      const drained = await drain(env)
      expect(drained.code, drained.stderr).toBe(0)
      const summary = summaryOf(drained)
      expect(summary).toMatchObject({ outcome: 'drained', facts: 30 })
      expect(await confirmedFlush(server.url, env.FACTLIB_SLOT)).toBe(summary.endLsn)
      // No failover slot before 17, and no warning about it either: nothing the operator can change.
      expect(drained.stderr).not.toMatch(/"level":"(error|warn)"/)

      const second = await placeOrders(server.url, source, 5)
      const again = await drain(env)
      expect(summaryOf(again)).toMatchObject({ outcome: 'drained', facts: 5 })
      const relayed = await factIdsIn(`${source}.order`)
      expect(relayed.sort()).toEqual([...first.kept, ...second.kept].sort())
      expect(relayed).not.toContain(first.rolledBack)
      expect(relayed).not.toContain(second.rolledBack)
    })

    test('a service relay streams facts as they commit and confirms them before it stops on SIGTERM', async () => {
      const source = uniqueName(`pg${release}`)
      const env = relayEnv(server.url, { FACTLIB_SOURCES: source, FACTLIB_HTTP_PORT: '0' })
      const relay = startRelayProcess(env)
      await relay.waitForLog('streaming', 30_000)
      const { kept, rolledBack, beforeLastCommit } = await placeOrders(server.url, source, 20)
      const relayed = await waitFor('20 facts in Kafka', async () => {
        const ids = await factIdsIn(`${source}.order`)
        return ids.length >= 20 ? ids : undefined
      })
      expect(relayed.sort()).toEqual([...kept].sort())
      expect(relayed).not.toContain(rolledBack)
      relay.kill('SIGTERM')
      expect(await relay.exited).toBe(0)
      const confirmed = await confirmedFlush(server.url, env.FACTLIB_SLOT)
      expect(relay.logs.filter((line) => line.level === 'error')).toEqual([])
      // Confirmed past the last fact's commit: nothing it relayed is left for a successor to send again.
      expect(parseLsn(confirmed ?? '0/0')).toBeGreaterThan(parseLsn(beforeLastCommit))
    })
  })
})

describe.skipIf(kafkaUnavailable() || missing.has(16))('a primary failover on PostgreSQL 16', () => {
  test('doctor warns before it; after it the relay stops with SLOT_MISSING, says what was lost, makes no slot', {
    timeout: 90_000,
  }, async () => {
    // The relay and the application reach the primary through a proxy, as through its DNS name.
    const pair = await pairBehindProxy({ release: 16, synchronous: true })
    const { endpoint } = pair
    const source = uniqueName('pg16failover')
    const env = relayEnv(endpoint, { FACTLIB_SOURCES: source })
    const relay = startRelayProcess(env)
    await relay.waitForLog('streaming', 30_000)

    const doctor = await runCli(['doctor'], { env })
    expect(doctor.code, `${doctor.stdout}${doctor.stderr}`).toBe(0)
    expect(doctor.stdout).toMatch(/PostgreSQL 16\.\d+ cannot synchronize a logical slot to a standby/)
    expect(doctor.stdout).toContain('1 streaming standby is attached')
    expect(doctor.stdout).toContain('upgrade to PostgreSQL 17 or newer')

    const { kept } = await placeOrders(endpoint, source, 10)
    await waitFor('10 facts in Kafka', async () => (await factIdsIn(`${source}.order`)).length >= 10)
    expect((await factIdsIn(`${source}.order`)).sort()).toEqual([...kept].sort())

    await pair.failOver()
    expect(await relay.exited).toBe(1)
    const said = JSON.stringify(relay.logs.filter((log) => log.msg === 'relay failed' || 'raw' in log))
    expect(said).toContain('SLOT_MISSING')
    expect(said).toContain('this server was promoted from a standby (timeline 2')
    expect(said).toContain('Lost: every fact committed after')
    // Never a silent new slot on the promoted server.
    const slots = await withClient(pair.standby.url, async (client) => {
      const { rows } = await client.query('select 1 from pg_replication_slots where slot_name = $1', [
        env.FACTLIB_SLOT,
      ])
      return rows.length
    })
    expect(slots).toBe(0)
  })
})
