import { PassThrough } from 'node:stream'
import type pg from 'pg'
import { describe, expect, test } from 'vitest'
import {
  createDatabase,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { parseConfig } from '../src/config/config.js'
import { silentLogger } from '../src/observability/log.js'
import { METRICS } from '../src/observability/metric-names.js'
import { startRelay } from '../src/relay/start-relay.js'
import { StdoutSink } from '../src/sinks/stdout.js'

// Its own server: WAL that other tests write would otherwise count as this slot's lag.
const server = privatePostgres()
const BOUND = 2 * 2 ** 20

/** `factlib_slot_lag_bytes` as the relay's /metrics shows it. */
async function lagFromMetrics(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const match = new RegExp(`^${METRICS.slotLagBytes.prometheus} (\\d+)$`, 'm').exec(text)
  if (!match) throw new Error(`no ${METRICS.slotLagBytes.prometheus} in /metrics`)
  return Number(match[1])
}

describe('an idle slot on a busy server', () => {
  test('follows the WAL end while only another database is written to (RDS rdsadmin-style)', async () => {
    const other = await createDatabase(server.url, 'other')
    const slot = uniqueName('slot')
    // The relay's database is the server's `postgres` database: nothing is ever written to it.
    const config = parseConfig({
      DATABASE_URL: server.url,
      FACTLIB_SINK: 'stdout',
      FACTLIB_SLOT: slot,
      FACTLIB_PUBLICATION: uniqueName('pub'),
      FACTLIB_HTTP_PORT: '0',
    })
    const out = new PassThrough()
    out.resume()
    const relay = await startRelay(config, {
      log: silentLogger,
      sink: new StdoutSink({ stream: out }),
      monitorIntervalMs: 25,
    })
    try {
      await waitFor('streaming', () => relay.notReady().length === 0)
      await withClient(other.url, (client) =>
        client.query('create table noise (id bigserial primary key, body text)'),
      )
      const walNow = (client: pg.Client) =>
        client
          .query<{ lsn: string }>(`select (pg_current_wal_lsn() - '0/0')::text as lsn`)
          .then(({ rows }) => Number(rows[0]?.lsn))

      // The writer: transactions of about 24 KiB of WAL each in the other database, back to back.
      const samples: number[] = []
      let transactions = 0
      let writing = true
      const sampler = (async () => {
        while (writing) {
          samples.push(await lagFromMetrics(relay.httpPort))
          await new Promise((resolve) => setTimeout(resolve, 25))
        }
      })()
      const { written, seconds } = await withClient(other.url, async (client) => {
        const start = await walNow(client)
        const began = Date.now()
        // At least 64 MiB, and on until the lag was sampled often enough while the writes went on.
        while ((await walNow(client)) - start < 64 * 2 ** 20 || samples.length < 60) {
          await client.query(`insert into noise (body) select repeat('x', 1000) from generate_series(1, 20)`)
          transactions += 1
        }
        return { written: (await walNow(client)) - start, seconds: (Date.now() - began) / 1000 }
      })
      writing = false
      await sampler

      const perTransaction = written / transactions
      const sorted = [...samples].sort((a, b) => a - b)
      const max = sorted.at(-1) ?? 0
      console.info(
        `other database wrote ${(written / 2 ** 20).toFixed(1)} MiB in ${transactions} transactions ` +
          `(${(perTransaction / 1024).toFixed(0)} KiB each) over ${seconds.toFixed(1)} s; ` +
          `${samples.length} samples of ${METRICS.slotLagBytes.prometheus}: median ${sorted[Math.floor(sorted.length / 2)]} B, ` +
          `p90 ${sorted[Math.floor(sorted.length * 0.9)]} B, max ${max} B`,
      )
      // The walsender reads the other database's WAL too (skipping its transactions) and, each time it has
      // caught up, sends a keepalive carrying its position, which the relay confirms at once. So the lag at
      // any moment is the WAL written since the walsender last caught up: one or two of the writer's
      // transactions (measured: median 22 KiB, worst 45–160 KiB). The bound, 2 MiB, is an eighth of one WAL
      // segment and about 30 ms of this writer, room for a busy machine; a slot that held the other
      // database's WAL would lag by all of it (tens of MiB here).
      expect(samples.length).toBeGreaterThanOrEqual(60)
      expect(written).toBeGreaterThanOrEqual(32 * BOUND)
      expect(max).toBeLessThan(BOUND)
      expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThanOrEqual(2 * perTransaction)
      // Once the writer stops, the slot is where the server's WAL ends, to within the server's own records.
      const settled = await waitFor('the lag to settle', async () => {
        const lag = await lagFromMetrics(relay.httpPort)
        return lag < 16 * 1024 ? { lag } : undefined
      })
      console.info(`after the writer stopped: ${METRICS.slotLagBytes.prometheus} ${settled.lag} B`)
    } finally {
      await relay.stop()
      await other.drop()
    }
  })
})
