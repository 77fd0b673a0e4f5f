import type pg from 'pg'
import type { RelayConfig } from '../config/config.js'
import type { Logger } from '../observability/log.js'
import type { RelayMetrics } from '../observability/metrics.js'
import type { Sink } from '../sinks/sink.js'
import { compactHeap } from '../util/heap-flags.js'
import { assertChecks, checkDatabase, explainConnectError } from '../wal/prerequisites.js'
import { ensureSlot, SlotLostError } from '../wal/slot.js'

/**
 * Everything before the first session: check the database, make the publication and slot exist, connect
 * the sink. Resolves with the interval of standby status updates: `statusIntervalMs` when given, else a
 * quarter of the server's `wal_sender_timeout` (0.5–10 s).
 */
export async function prepare(
  admin: pg.Pool,
  config: RelayConfig,
  options: { sink: Sink; log: Logger; metrics: RelayMetrics; statusIntervalMs: number | undefined },
): Promise<number> {
  const { metrics } = options
  let statusIntervalMs = options.statusIntervalMs ?? 10_000
  try {
    const client = await admin.connect().catch((error: unknown) => {
      throw explainConnectError(error, config.databaseUrl)
    })
    try {
      assertChecks(await checkDatabase(client, config.databaseUrl))
      // Status updates must reach the server well inside its wal_sender_timeout, or it ends the session.
      const timeout = await client.query<{ ms: number }>(
        `select setting::int as ms from pg_settings where name = 'wal_sender_timeout'`,
      )
      const senderTimeoutMs = timeout.rows[0]?.ms ?? 60_000
      if (options.statusIntervalMs === undefined && senderTimeoutMs > 0)
        statusIntervalMs = Math.max(500, Math.min(10_000, Math.floor(senderTimeoutMs / 4)))
      const slot = await ensureSlot(client, config, options.log)
      metrics.walStatus = slot.walStatus ?? undefined
      metrics.slotLagBytes = slot.lagBytes
    } finally {
      client.release()
    }
    await options.sink.start()
    compactHeap()
  } catch (error) {
    if (error instanceof SlotLostError) metrics.walStatus = 'lost'
    throw error
  }
  return statusIntervalMs
}
