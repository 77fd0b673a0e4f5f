// End-to-end latency at fixed offered loads: clients emit single-fact transactions (autocommit, durable
// commits) at a fixed rate, a relay process produces them to Kafka, a consumer process notes when each
// arrives. Both measures start at PostgreSQL's commit timestamp (read from the commit record with
// pg_walinspect, matched by the record's `factlib-lsn` header): commit → consumer (exact, every fact) and
// commit → Kafka ack (the relay's own histogram; only as precise as its buckets).
//
//   npx tsx bench/relay-latency.ts [--quick]
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { formatLsn, parseLsn } from '@factlib/relay'
import pg from 'pg'
import { spawnScript } from './child.js'
import { createDatabase, createSlots, currentLsn, positionReader, withClient } from './db.js'
import { benchEmitter, factInput } from './facts.js'
import { runLoad } from './load.js'
import { type CpuUsage, CpuWindow } from './proc.js'
import { latencyBetween, startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format, formatSummary, type Percentiles, percentiles, type Summary, summarize } from './stats.js'

export const COMMAND = 'npx tsx bench/relay-latency.ts'

export type Load = number | 'max'

export interface LatencyOptions {
  repeats?: number
  /** Offered loads per payload size, facts/s. */
  loads?: Record<number, Load[]>
  warmupMs?: number
  durationMs?: number
}

export interface LatencyRun {
  bytes: number
  load: Load
  rep: number
  clients: number
  achieved: number
  /** Transactions that started over 10 ms late: the clients could not offer the load. */
  late: number
  /** PostgreSQL's commit timestamp → the consumer has the record, ms. */
  consumer: Percentiles
  /** Facts committed in the window that did not reach the consumer within 60 s. */
  missing: number
  /** Commit timestamp → Kafka ack, ms, from the relay's histogram. */
  relay: { count: number; p50: number; p90: number; p99: number }
  cpu: CpuUsage
}

export interface LatencyPoint {
  bytes: number
  load: Load
  achieved: Summary
  consumer: Record<'p50' | 'p90' | 'p99' | 'max', Summary>
  relay: Record<'p50' | 'p90' | 'p99', Summary>
  /** Over every repeat's samples together. */
  pooled: Percentiles
  /** Cores used while the load ran: the relay, its walsender, the broker, the consumer, other work. */
  cpu: Record<'relay' | 'walsender' | 'kafka' | 'consumer' | 'foreign', Summary>
}

export interface LatencyResult {
  command: string
  repeats: number
  warmupMs: number
  durationMs: number
  runs: LatencyRun[]
  points: LatencyPoint[]
}

const clientsFor = (load: Load) => (load === 'max' ? 32 : load <= 100 ? 2 : load <= 1000 ? 8 : 32)

export function defaults(quick: boolean): Required<LatencyOptions> {
  return quick
    ? {
        repeats: 1,
        loads: { 1024: [1000, 'max'] },
        warmupMs: 500,
        durationMs: 1500,
      }
    : {
        repeats: 3,
        loads: { 1024: [100, 1000, 10_000, 'max'], 100: [100, 1000, 'max'] },
        warmupMs: 1000,
        durationMs: 4000,
      }
}

export async function measure(context: BenchContext, options: LatencyOptions = {}): Promise<LatencyResult> {
  const { services, log } = context
  const settings = { ...defaults(context.quick), ...options }
  const runs: LatencyRun[] = []
  const samples = new Map<string, number[]>()
  const scratch = join(services.kafka.dir, 'latency')
  for (const [bytesText, loads] of Object.entries(settings.loads)) {
    const bytes = Number(bytesText)
    const db = await createDatabase(services.url, 'bench_lat')
    const topic = `lat${bytes}.bench.order`
    await ensureTopics(services.kafka.brokers, [topic])
    await withClient(db.url, (client) => client.query('create extension if not exists pg_walinspect'))
    await createSlots(db.url, 'bench_pub', ['relay'])
    const relay = await startStreamingRelay({
      DATABASE_URL: db.url,
      FACTLIB_SLOT: 'relay',
      FACTLIB_PUBLICATION: 'bench_pub',
      FACTLIB_CREATE_SLOT: 'false',
      FACTLIB_TOPIC: `lat${bytes}.{source}.{aggregateType}`,
      KAFKA_BROKERS: services.kafka.brokers.join(','),
    })
    const consumer = spawnScript('latency-consumer.ts', [services.kafka.brokers.join(','), topic])
    const positions = await positionReader(db.url)
    const admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
    try {
      await admin.query(`set timezone = 'UTC'`)
      await consumer.line((line) => line === 'ready', 60_000)
      const walsender = await positions.walsenderPid('relay')
      const emitter = benchEmitter()
      let sequence = 0
      const emitLoad = (load: Load, durationMs: number) =>
        runLoad(
          { url: db.url, clients: clientsFor(load), durationMs, ...(load === 'max' ? {} : { rate: load }) },
          async (client) => {
            await emitter.emit(client, factInput(sequence++, bytes))
          },
        )
      // Commit LSN → when the consumer had the record, over the whole run.
      const arrived = new Map<bigint, number>()
      let dumps = 0
      const collect = async () => {
        const file = `${scratch}-${dumps++}.txt`
        const from = consumer.lines.length
        consumer.send(`dump ${file}`)
        await consumer.line((line) => line.startsWith('dumped '), 30_000, from)
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const [lsn, at] = line.split(' ')
          if (lsn && at && !arrived.has(parseLsn(lsn))) arrived.set(parseLsn(lsn), Number(at))
        }
        rmSync(file, { force: true })
      }
      // The pipeline and the consumer warm up once; each load then has its own warm-up at its rate.
      await emitLoad(1000, 1000)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await collect()
      for (let rep = 0; rep < settings.repeats; rep++) {
        const order = loads.map((_, i) => loads[(i + rep) % loads.length] as Load)
        for (const load of order) {
          await emitLoad(load, settings.warmupMs)
          const before = await relay.metrics()
          const from = await currentLsn(admin)
          const window = new CpuWindow({
            walsender,
            relay: relay.pid,
            kafka: services.kafkaPid,
            consumer: consumer.pid,
          })
          const sampler = setInterval(() => window.sample(), 100)
          const result = await emitLoad(load, settings.durationMs)
          clearInterval(sampler)
          const cpu = window.stop()
          const to = await currentLsn(admin)
          const commits = await commitTimes(admin, from, to)
          const inWindow = () => [...arrived].filter(([lsn]) => lsn > from && lsn < to && commits.has(lsn))
          const deadline = Date.now() + 60_000
          while (inWindow().length < result.transactions && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 200))
            await collect()
          }
          const latencies = inWindow().map(([lsn, at]) => at - (commits.get(lsn) as number))
          const after = await relay.metrics()
          const histogram = latencyBetween(before, after)
          const run: LatencyRun = {
            bytes,
            load,
            rep,
            clients: clientsFor(load),
            achieved: result.perSecond,
            late: result.late,
            consumer: percentiles(latencies),
            missing: result.transactions - latencies.length,
            relay: { count: histogram.count, p50: histogram.p50, p90: histogram.p90, p99: histogram.p99 },
            cpu,
          }
          runs.push(run)
          const pooled = samples.get(`${bytes}|${load}`) ?? []
          for (const latency of latencies) pooled.push(latency)
          samples.set(`${bytes}|${load}`, pooled)
          log(
            `relay-latency ${bytes} B ${load}/s rep ${rep + 1}/${settings.repeats}: ${format(run.achieved)} facts/s, ` +
              `commit→consumer p50 ${format(run.consumer.p50)} p99 ${format(run.consumer.p99)} max ${format(run.consumer.max)} ms; ` +
              `commit→ack p99 ≈ ${format(run.relay.p99)} ms` +
              (run.missing ? `; ${run.missing} missing` : ''),
          )
        }
      }
    } finally {
      consumer.send('exit')
      await Promise.race([consumer.exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      consumer.kill('SIGKILL')
      await admin.end().catch(() => {})
      await positions.close()
      await relay.stop()
      await db.drop()
    }
  }
  return {
    command: COMMAND,
    repeats: settings.repeats,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    runs,
    points: points(runs, samples),
  }
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
    if (!match) continue
    times.set(parseLsn(row.lsn), Date.parse(`${match[1]}T${match[2]}Z`) + Number(match[3] ?? 0) * 1000)
  }
  return times
}

function points(runs: LatencyRun[], samples: Map<string, number[]>): LatencyPoint[] {
  const keys = [...new Set(runs.map((run) => `${run.bytes}|${run.load}`))]
  return keys.map((key) => {
    const mine = runs.filter((run) => `${run.bytes}|${run.load}` === key)
    const first = mine[0] as LatencyRun
    const of = (pick: (run: LatencyRun) => number) => summarize(mine.map(pick))
    return {
      bytes: first.bytes,
      load: first.load,
      achieved: of((run) => run.achieved),
      consumer: {
        p50: of((run) => run.consumer.p50),
        p90: of((run) => run.consumer.p90),
        p99: of((run) => run.consumer.p99),
        max: of((run) => run.consumer.max),
      },
      relay: {
        p50: of((run) => run.relay.p50),
        p90: of((run) => run.relay.p90),
        p99: of((run) => run.relay.p99),
      },
      // Percentiles of percentiles are not percentiles: the pooled figure is over every repeat's samples.
      pooled: percentiles(samples.get(key) ?? []),
      cpu: {
        relay: of((run) => run.cpu.processes.relay ?? Number.NaN),
        walsender: of((run) => run.cpu.processes.walsender ?? Number.NaN),
        kafka: of((run) => run.cpu.processes.kafka ?? Number.NaN),
        consumer: of((run) => run.cpu.processes.consumer ?? Number.NaN),
        foreign: of((run) => run.cpu.foreign),
      },
    }
  })
}

export function printLatency(result: LatencyResult): string {
  const lines = [
    `\ncommit → consumer and commit → Kafka ack (relay histogram), ms; median (min–max) over ${result.repeats} repeats of ${result.durationMs / 1000} s:`,
  ]
  for (const point of result.points)
    lines.push(
      `  ${String(point.bytes).padStart(4)} B ${String(point.load).padStart(6)}/s  achieved ${formatSummary(point.achieved)}  ` +
        `p50 ${formatSummary(point.consumer.p50)}  p90 ${formatSummary(point.consumer.p90)}  p99 ${formatSummary(point.consumer.p99)}  ` +
        `max ${formatSummary(point.consumer.max)}  | ack p50 ${formatSummary(point.relay.p50)} p99 ${formatSummary(point.relay.p99)}`,
    )
  return lines.join('\n')
}

if (isMain(import.meta.url)) await runStandalone('relay-latency', (context) => measure(context), printLatency)
