import pg from 'pg'
import { sleep } from './services.js'

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now()

export interface LoadOptions {
  url: string
  clients: number
  durationMs: number
  /** Transactions per second to offer (open loop: each is due at its time whatever happened before); unset: as fast as the clients go. */
  rate?: number
}

/**
 * Runs `transaction(client, n)` on `clients` connections for `durationMs`, at a fixed offered rate or
 * closed-loop. Connections are opened before the clock starts. `late` counts transactions that started
 * more than 10 ms after they were due: the offered rate was not reached.
 */
export async function runLoad(
  options: LoadOptions,
  transaction: (client: pg.Client, n: number) => Promise<unknown>,
) {
  const clients = await Promise.all(
    Array.from({ length: options.clients }, async () => {
      const client = new pg.Client({ connectionString: options.url })
      client.on('error', () => {})
      await client.connect()
      return client
    }),
  )
  try {
    let [next, done, late] = [0, 0, 0]
    const started = performance.now()
    const end = started + options.durationMs
    const interval = options.rate ? 1000 / options.rate : 0
    await Promise.all(
      clients.map(async (client) => {
        for (;;) {
          const n = next++
          const due = started + n * interval
          if (due >= end || (!interval && performance.now() >= end)) return
          const wait = due - performance.now()
          if (interval && wait > 1) await sleep(wait)
          else if (interval && wait < -10) late += 1
          await transaction(client, n)
          done += 1
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    return { transactions: done, seconds, perSecond: done / seconds, late }
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})))
  }
}
