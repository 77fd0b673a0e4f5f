// End-to-end latency at fixed offered loads: clients emit single-fact transactions (autocommit, durable
// commits) at a fixed rate, a relay produces them to Kafka, a consumer process notes when each arrives. Both
// measures start at PostgreSQL's commit timestamp (read from the commit record with pg_walinspect, matched
// by the record's `factlib-lsn` header): commit → consumer (exact) and commit → Kafka ack (the relay's
// histogram, only as precise as its buckets).
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { formatLsn, parseLsn } from '@factlib/relay'
import pg from 'pg'
import { spawnScript } from './child.js'
import { createDatabase, createSlots, currentLsn, positionReader, withClient } from './db.js'
import { benchEmitter, factInput } from './facts.js'
import { runLoad } from './load.js'
import { CpuWindow } from './proc.js'
import { latencyBetween, startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, sleep } from './services.js'
import { format, percentiles, rotate } from './stats.js'

export type Load = number | 'max'
const clientsFor = (load: Load) => (load === 'max' ? 32 : load <= 100 ? 2 : load <= 1000 ? 8 : 32)

export async function measure({ services, quick, log }: BenchContext) {
  const settings = quick
    ? { repeats: 1, loads: { 1024: [1000, 'max'] as Load[] }, warmupMs: 500, durationMs: 1500 }
    : {
        repeats: 3,
        loads: { 1024: [100, 1000, 10_000, 'max'], 100: [100, 1000, 'max'] } as Record<number, Load[]>,
        warmupMs: 1000,
        durationMs: 4000,
      }
  const runs = []
  // Percentiles of percentiles are not percentiles: the pooled figure is over every repeat's samples.
  const samples: Record<string, number[]> = {}
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
    }).catch(async (error: unknown) => {
      await db.drop() // its slot would stay behind and hold the next benchmark's slot name
      throw error
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
          (client) => emitter.emit(client, factInput(sequence++, bytes)),
        )
      // Commit LSN → when the consumer had the record, over the whole run.
      const arrived = new Map<bigint, number>()
      let dumps = 0
      const collect = async () => {
        const file = join(services.kafka.dir, `latency-${dumps++}.txt`)
        const from = consumer.lines.length
        consumer.send(`dump ${file}`)
        await consumer.line((line) => line.startsWith('dumped '), 30_000, from)
        for (const [lsn, at] of readFileSync(file, 'utf8')
          .split('\n')
          .map((line) => line.split(' ')))
          if (lsn && at && !arrived.has(parseLsn(lsn))) arrived.set(parseLsn(lsn), Number(at))
        rmSync(file, { force: true })
      }
      // The pipeline and the consumer warm up once; each load then has its own warm-up at its rate.
      await emitLoad(1000, 1000)
      await sleep(1000)
      await collect()
      for (let rep = 0; rep < settings.repeats; rep++)
        for (const load of rotate(loads, rep)) {
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
          for (
            const deadline = Date.now() + 60_000;
            inWindow().length < result.transactions && Date.now() < deadline;
          ) {
            await sleep(200)
            await collect()
          }
          const latencies = inWindow().map(([lsn, at]) => at - (commits.get(lsn) as number))
          const ack = latencyBetween(before, await relay.metrics())
          const run = {
            arm: `${bytes}|${load}`,
            bytes,
            load,
            rep,
            achieved: result.perSecond,
            late: result.late,
            consumer: percentiles(latencies),
            missing: result.transactions - latencies.length,
            ack,
            cpu,
          }
          runs.push(run)
          samples[run.arm] = [...(samples[run.arm] ?? []), ...latencies]
          log(
            `relay-latency ${bytes} B ${load}/s rep ${rep + 1}/${settings.repeats}: ${format(run.achieved)} facts/s, ` +
              `commit→consumer p99 ${format(run.consumer.p99)} ms, commit→ack p99 ≈ ${format(ack.p99)} ms` +
              (run.missing ? `; ${run.missing} missing` : ''),
          )
        }
    } finally {
      consumer.send('exit')
      await Promise.race([consumer.exited, sleep(5000)])
      consumer.kill('SIGKILL')
      await admin.end().catch(() => {})
      await positions.close()
      await relay.stop()
      await db.drop()
    }
  }
  const pooled = Object.fromEntries(
    Object.entries(samples).map(([arm, values]) => [arm, percentiles(values)]),
  )
  return { ...settings, runs, pooled }
}

export type LatencyResult = Awaited<ReturnType<typeof measure>>

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
