import type pg from 'pg'
import type { Logger } from '../observability/log.js'
import { SlotLostError } from '../wal/slot.js'
import type { RelayState } from './relay-state.js'

/**
 * Read the slot's lag and `wal_status` every `intervalMs` into the metrics. A lost slot means its facts
 * are gone: the relay turns not ready, records why it ends, and calls `stop`. Returns what ends the timer.
 */
export function monitorSlot(
  admin: pg.Pool,
  state: RelayState,
  options: { log: Logger; intervalMs: number; stop: () => void },
): () => void {
  const { metrics, slot } = state
  const { log } = options
  const timer = setInterval(() => {
    admin
      .query<{ lag: string | null; wal_status: string | null }>(
        `select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag, wal_status
           from pg_replication_slots where slot_name = $1`,
        [slot],
      )
      .then(({ rows }) => {
        const row = rows[0]
        if (!row) return
        metrics.slotLagBytes = Number(row.lag ?? 0)
        metrics.walStatus = row.wal_status ?? undefined
        if (row.wal_status === 'lost' && state.phase !== 'lost') {
          state.phase = 'lost'
          state.fatal = new SlotLostError(slot)
          log.error('the replication slot was invalidated; exiting', { error: state.fatal })
          options.stop()
        }
      })
      .catch((error: unknown) => log.debug('reading slot lag failed', { error }))
  }, options.intervalMs)
  return () => clearInterval(timer)
}
