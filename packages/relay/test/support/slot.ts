import { withClient } from '../../../../test/harness/postgres.js'
import { waitFor } from '../../../../test/harness/wait.js'

/** The slot's confirmed_flush_lsn as text, or undefined when the slot does not exist. */
export function confirmedFlush(databaseUrl: string, slot: string): Promise<string | undefined> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ lsn: string }>(
      'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1',
      [slot],
    )
    return rows[0]?.lsn
  })
}

/** Wait until the slot is confirmed at or past `lsn`. */
export function waitForConfirmed(
  databaseUrl: string,
  slot: string,
  lsn: string,
  timeoutMs = 30_000,
): Promise<true> {
  return waitFor(
    `slot ${slot} confirmed at or past ${lsn}`,
    () =>
      withClient(databaseUrl, async (client) => {
        const { rows } = await client.query<{ done: boolean }>(
          'select confirmed_flush_lsn >= $2::pg_lsn as done from pg_replication_slots where slot_name = $1',
          [slot, lsn],
        )
        return rows[0]?.done === true
      }),
    { timeoutMs, intervalMs: 100 },
  ) as Promise<true>
}

/** The current end of the WAL. */
export function currentWalLsn(databaseUrl: string): Promise<string> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
    return rows[0]?.lsn ?? ''
  })
}

/**
 * Write WAL until the slot is invalidated (`wal_status` lost). Needs a server started with a small
 * `max_slot_wal_keep_size` and a slot that is not confirmed meanwhile (its reader stopped or stuck).
 */
export function invalidateSlot(databaseUrl: string, slot: string): Promise<void> {
  return withClient(databaseUrl, async (client) => {
    await client.query('create table filler (body text)')
    await waitFor(
      'the slot to be invalidated',
      async () => {
        await client.query(`insert into filler select repeat('x', 1000) from generate_series(1, 20000)`)
        await client.query('select pg_switch_wal()')
        await client.query('checkpoint')
        const { rows } = await client.query<{ wal_status: string }>(
          'select wal_status from pg_replication_slots where slot_name = $1',
          [slot],
        )
        return rows[0]?.wal_status === 'lost'
      },
      { timeoutMs: 60_000, intervalMs: 10 },
    )
  })
}
