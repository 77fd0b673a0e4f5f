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
