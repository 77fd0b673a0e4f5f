// What emitting N facts costs PostgreSQL and the network (bench/README.md, "Emitter"): server time from
// pg_stat_statements on a PostgreSQL of its own, and the round trips (ReadyForQuery messages) of one emit.
import pg from 'pg'
import { createEmitter, type FactInput } from '../packages/emit/src/index.js'
import { startPostgres } from '../test/harness/postgres.js'

const fact = (i: number): FactInput => ({
  aggregateType: 'order',
  aggregateId: `order-${i % 100}`,
  type: 'order.placed',
  data: { orderId: i, customer: 'c-42', total: 19.99, lines: [{ sku: 'sku-1', qty: 2 }] },
  metadata: { tenant: 'acme' },
})

export async function measure() {
  const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements' } })
  const client = new pg.Client({ connectionString: server.url })
  try {
    await client.connect()
    await client.query('create extension if not exists pg_stat_statements')
    const { rows: version } = await client.query<{ v: string }>('select version() as v')
    let readyForQuery = 0
    type Connection = { connection: { on(event: string, listener: () => void): void } }
    ;(client as unknown as Connection).connection.on('readyForQuery', () => readyForQuery++)
    const facts = createEmitter({ source: 'bench' })
    const rows = []
    for (const n of [1, 10, 100, 1000]) {
      const inputs = Array.from({ length: n }, (_, i) => fact(i))
      // Enough calls for a stable mean, at most 20,000 facts per size.
      const calls = Math.max(20, Math.min(500, 20_000 / n))
      // Warm up (plan cache, catalog), then reset the statistics and measure.
      for (let i = 0; i < 5; i++) await facts.emit(client, inputs)
      await client.query('select pg_stat_statements_reset()')
      let [trips, clientMs] = [0, 0]
      for (let i = 0; i < calls; i++) {
        await client.query('begin')
        const [before, started] = [readyForQuery, performance.now()]
        await facts.emit(client, inputs)
        clientMs += performance.now() - started
        trips += readyForQuery - before
        await client.query('commit')
      }
      const { rows: stats } = await client.query<{ calls: string; mean: number }>(
        `select calls, mean_exec_time as mean from pg_stat_statements
          where query like '%pg_logical_emit_message%' and query not like '%pg_stat_statements%'`,
      )
      if (stats.length !== 1 || Number(stats[0]!.calls) !== calls)
        throw new Error(`expected one statement with ${calls} calls, got ${JSON.stringify(stats)}`)
      // In the order of the report's columns.
      rows.push({
        facts: n,
        serverMsPerStatement: stats[0]!.mean,
        serverUsPerFact: (stats[0]!.mean * 1000) / n,
        roundTripsPerEmit: trips / calls,
        clientMsPerEmit: clientMs / calls,
        /** Bytes of the statement's array-literal parameter per fact (the envelope plus its quoting). */
        paramBytesPerFact: Math.round(Buffer.byteLength(facts.prepare(inputs).params[1] as string) / n),
      })
    }
    return { postgres: version[0]!.v.split(' on ')[0]!, rows }
  } finally {
    await client.end().catch(() => {})
    await server.destroy()
  }
}
