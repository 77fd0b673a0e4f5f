import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  kafkaUnavailable,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'

// Its own server: the WAL other tests write would otherwise hide what this slot retains.
const server = privatePostgres()

describe.skipIf(kafkaUnavailable())('an idle slot', () => {
  test('does not hold WAL while other writes go on and no fact is emitted (no heartbeat table)', async () => {
    const slot = uniqueName('slot')
    const relay = startRelayProcess(relayEnv(server.url, { FACTLIB_SLOT: slot }))
    await relay.waitForLog('streaming')
    const retained = () =>
      withClient(server.url, async (client) => {
        const { rows } = await client.query<{ confirmed: string; restart: string }>(
          `select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as confirmed,
                  (pg_current_wal_lsn() - restart_lsn)::text as restart
             from pg_replication_slots where slot_name = $1`,
          [slot],
        )
        return { confirmed: Number(rows[0]?.confirmed), restart: Number(rows[0]?.restart) }
      })
    // About 64 MiB of WAL from a table the publication does not include.
    await withClient(server.url, async (client) => {
      await client.query('create table noise (id serial primary key, body text)')
      for (let round = 0; round < 16; round++)
        await client.query(`insert into noise (body) select repeat('x', 1000) from generate_series(1, 4000)`)
    })
    const written = await withClient(server.url, async (client) =>
      Number(
        (await client.query<{ total: string }>(`select (pg_current_wal_lsn() - '0/0')::text as total`))
          .rows[0]?.total,
      ),
    )
    expect(written).toBeGreaterThan(60 * 2 ** 20)
    const settled = await waitFor(
      'the slot to let go of the noise',
      async () => {
        // A running-transactions record lets PostgreSQL move restart_lsn forward; the server logs one every
        // 15 s on its own, this asks for one now.
        await withClient(server.url, (client) => client.query('select pg_log_standby_snapshot()'))
        const now = await retained()
        return now.confirmed < 64 * 1024 && now.restart < 1024 * 1024 ? now : undefined
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    console.info(
      `retained after 64 MiB of other writes: confirmed lag ${settled.confirmed} B, restart lag ${settled.restart} B`,
    )
    expect(settled.confirmed).toBeLessThan(64 * 1024)
    expect(await relay.stop()).toBe(0)
  })
})
