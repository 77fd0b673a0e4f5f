// End-to-end latency at fixed offered loads, from PostgreSQL's commit timestamp to a consumer process and
// to Kafka's acknowledgement (the relay's histogram): bench/README.md, "End-to-end latency".
import { formatLsn, parseLsn } from '@factlib/relay'
import pg from 'pg'
import { waitFor } from '../test/harness/wait.js'
import { spawnScript } from './child.js'
import { currentLsn } from './db.js'
import { benchEmitter, factInput } from './facts.js'
import { runLoad } from './load.js'
import { CpuWindow } from './proc.js'
import { latencyBetween, withRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, log, sleep } from './services.js'
import { format, percentiles, rotate } from './stats.js'

type Load = number | 'max'
const WALSENDER = `select active_pid from pg_replication_slots where slot_name = 'relay'`
/** `max` is 32 clients as fast as they go; a rate gets as many clients as it needs. */
const offer = (load: Load) =>
  load === 'max' ? { clients: 32 } : { clients: load <= 100 ? 2 : load <= 1000 ? 8 : 32, rate: load }

export async function measure({ services, quick }: BenchContext) {
  const loads: Record<number, Load[]> = { 1024: [100, 1000, 10_000, 'max'], 100: [100, 1000, 'max'] }
  const settings = quick
    ? { repeats: 1, loads: { 1024: [1000, 'max'] } as typeof loads, warmupMs: 500, durationMs: 1500 }
    : { repeats: 3, loads, warmupMs: 1000, durationMs: 4000 }
  const runs = []
  // Percentiles of percentiles are not percentiles: the pooled figure is over every repeat's samples.
  const samples: Record<string, number[]> = {}
  for (const [bytesText, loads] of Object.entries(settings.loads)) {
    const bytes = Number(bytesText)
    const topic = `lat${bytes}.bench.order`
    await ensureTopics(services.kafka.brokers, [topic])
    const env = { FACTLIB_TOPIC: `lat${bytes}.{source}.{aggregateType}` }
    const measured = await withRelay(services, env, async (relay, url) => {
      const runs = []
      const consumer = spawnScript('latency-consumer.ts', [services.kafka.brokers.join(','), topic])
      const admin = new pg.Client({ connectionString: url })
      try {
        await admin.connect()
        await admin.query(`create extension if not exists pg_walinspect; set timezone = 'UTC'`)
        await consumer.line((line) => line === 'ready', 60_000)
        const walsender = Number((await admin.query(WALSENDER)).rows[0]?.active_pid ?? 0)
        const emitter = benchEmitter()
        let sequence = 0
        const emitFact = (client: pg.Client) => emitter.emit(client, factInput(sequence++, bytes))
        const emitLoad = (load: Load, durationMs: number) =>
          runLoad({ url, durationMs, ...offer(load) }, emitFact)
        // Commit LSN → when the consumer had the record, over the whole run.
        const arrived = new Map<bigint, number>()
        const collect = async () => {
          const from = consumer.lines.length
          consumer.send('dump')
          await consumer.line((line) => line.startsWith('dumped '), 30_000, from)
          for (const [lsn = '', at] of consumer.lines.slice(from).map((line) => line.split(' ')))
            if (at && lsn !== 'dumped' && !arrived.has(parseLsn(lsn))) arrived.set(parseLsn(lsn), Number(at))
        }
        // The pipeline and the consumer warm up once; each load then has its own warm-up at its rate.
        await emitLoad(1000, 1000)
        await sleep(1000)
        await collect()
        for (let rep = 0; rep < settings.repeats; rep++)
          for (const load of rotate(loads, rep)) {
            await emitLoad(load, settings.warmupMs)
            const [before, from] = [await relay.metrics(), await currentLsn(admin)]
            const processes = { walsender, relay: relay.pid, kafka: services.kafka.pid }
            const window = new CpuWindow(processes, 100)
            const result = await emitLoad(load, settings.durationMs)
            const cpu = window.stop()
            const to = await currentLsn(admin)
            const commits = await commitTimes(admin, from, to)
            const inWindow = () => [...arrived].filter(([lsn]) => lsn > from && lsn < to && commits.has(lsn))
            const everyFact = async () => {
              await collect()
              return inWindow().length >= result.transactions
            }
            // What has not arrived within a minute is counted as missing.
            await waitFor('every fact', everyFact, { timeoutMs: 60_000, intervalMs: 200 }).catch(() => {})
            const latencies = inWindow().map(([lsn, at]) => at - (commits.get(lsn) as number))
            const ack = latencyBetween(before, await relay.metrics())
            const [consumer, missing] = [percentiles(latencies), result.transactions - latencies.length]
            const achieved = result.perSecond
            const run = { arm: `${bytes}|${load}`, bytes, load, rep, achieved, consumer, missing, ack, cpu }
            runs.push(run)
            samples[run.arm] = [...(samples[run.arm] ?? []), ...latencies]
            const lost = missing ? `, ${missing} missing` : ''
            log(`relay-latency ${run.arm} rep ${rep + 1}: p99 ${format(consumer.p99)} ms${lost}`)
          }
        return runs
      } finally {
        consumer.kill('SIGKILL')
        await admin.end().catch(() => {})
      }
    })
    runs.push(...measured)
  }
  const pooled = Object.fromEntries(Object.entries(samples).map(([arm, all]) => [arm, percentiles(all)]))
  return { ...settings, runs, pooled }
}

/** Commit timestamps (ms since the epoch, microsecond precision) by commit record LSN, read from the WAL. */
async function commitTimes(client: pg.Client, from: bigint, to: bigint): Promise<Map<bigint, number>> {
  const { rows } = await client.query<{ lsn: string; description: string }>(
    `select start_lsn::text as lsn, description from pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
      where resource_manager = 'Transaction' and record_type = 'COMMIT'`,
    [formatLsn(from), formatLsn(to)],
  )
  const times = new Map<bigint, number>()
  for (const row of rows) {
    // e.g. "2026-11-22 15:29:58.13535+00" (the session's time zone is UTC), possibly followed by "; …".
    const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?\+00/.exec(row.description)
    if (match)
      times.set(parseLsn(row.lsn), Date.parse(`${match[1]}T${match[2]}Z`) + Number(match[3] ?? 0) * 1000)
  }
  return times
}
