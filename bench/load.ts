import pg from 'pg'

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now()

export interface LoadOptions {
  url: string
  clients: number
  durationMs: number
  /** Transactions per second to offer (open loop: each is due at its time whatever happened before); unset: as fast as the clients go. */
  rate?: number
  /** Runs once per connection before the load starts (e.g. `set synchronous_commit`). */
  setup?: (client: pg.Client) => Promise<void>
}

export interface LoadResult {
  transactions: number
  seconds: number
  perSecond: number
  /** Transactions that started more than 10 ms after they were due: the offered rate was not reached. */
  late: number
}

/**
 * Runs `transaction(client, n)` on `clients` connections for `durationMs`, either at a fixed offered rate or
 * closed-loop. Connections are opened before the clock starts.
 */
export async function runLoad(
  options: LoadOptions,
  transaction: (client: pg.Client, n: number) => Promise<void>,
): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({ length: options.clients }, async () => {
      const client = new pg.Client({ connectionString: options.url })
      client.on('error', () => {})
      await client.connect()
      await options.setup?.(client)
      return client
    }),
  )
  try {
    let next = 0
    let done = 0
    let late = 0
    const started = performance.now()
    const end = started + options.durationMs
    const interval = options.rate ? 1000 / options.rate : 0
    await Promise.all(
      clients.map(async (client) => {
        for (;;) {
          const n = next++
          const due = started + n * interval
          if (due >= end) return
          if (interval) {
            const wait = due - performance.now()
            if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
            else if (wait < -10) late += 1
          } else if (performance.now() >= end) return
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
