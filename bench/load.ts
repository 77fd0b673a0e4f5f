import pg from 'pg'
import { sleep } from './services.js'

type Options = { url: string; clients: number; durationMs: number; rate?: number }
type Transaction = (client: pg.Client, n: number) => Promise<unknown>

/**
 * `transaction(client, n)` on `clients` connections for `durationMs`: at `rate` per second (open loop: each
 * is due at its time whatever happened before), or as fast as they go.
 */
export async function runLoad(options: Options, transaction: Transaction) {
  const connect = async () => {
    const client = new pg.Client({ connectionString: options.url })
    client.on('error', () => {})
    await client.connect()
    return client
  }
  const clients = await Promise.all(Array.from({ length: options.clients }, connect))
  try {
    let [next, done] = [0, 0]
    const started = performance.now()
    const [end, interval] = [started + options.durationMs, options.rate ? 1000 / options.rate : 0]
    const work = async (client: pg.Client) => {
      for (let n = next++; ; n = next++) {
        const due = started + n * interval
        if (due >= end || (!interval && performance.now() >= end)) return
        if (due - performance.now() > 1) await sleep(due - performance.now())
        await transaction(client, n)
        done += 1
      }
    }
    await Promise.all(clients.map(work))
    const seconds = (performance.now() - started) / 1000
    return { transactions: done, seconds, perSecond: done / seconds }
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})))
  }
}
