// Relay resident memory, one relay process per repeat through three phases:
//   full speed     a backlog of 1 KB facts written before the relay starts, drained as fast as it goes
//   Kafka stopped  the broker is stopped and more facts than FACTLIB_MAX_INFLIGHT_BYTES (64 MiB) are
//                  committed: the relay must hold at most that much and stop reading (then `outageMs` more)
//   recovery       the broker starts again; the relay delivers everything it held and read
// RSS is sampled every 100 ms (and the kernel's peak, VmHWM), in-flight bytes from /metrics.
//
//   npx tsx bench/relay-memory.ts [--quick]
//   FACTLIB_BENCH_MAX_INFLIGHT_BYTES=33554432 npx tsx bench/relay-memory.ts   another in-flight bound
import { createDatabase, createSlots, emitBacklog, positionReader } from './db.js'
import { TOPIC } from './facts.js'
import { memory } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format, formatSummary, type Summary, summarize } from './stats.js'

export const COMMAND = 'npx tsx bench/relay-memory.ts'
const MiB = 1024 * 1024

export interface MemoryOptions {
  repeats?: number
  fullSpeedFacts?: number
  outageFacts?: number
  outageMs?: number
}

export type Phase = 'started' | 'full speed' | 'idle' | 'Kafka stopped' | 'recovery'

export interface MemorySample {
  t: number
  rss: number
  inflightBytes: number
  /** From the relay's /metrics (scraped every 250 ms): the V8 heap reserved, and Buffers outside it. */
  heapTotalBytes?: number
  externalBytes?: number
  phase: Phase
}

export interface MemoryRun {
  rep: number
  /** A second after the relay started streaming, before any fact. */
  startedRss: number
  /** After the full-speed backlog, with nothing in flight. */
  idleRss: number
  fullSpeed: {
    facts: number
    seconds: number
    peakRss: number
    medianRss: number
    /** At the full-speed RSS peak: what the relay's /metrics last said of its heap and Buffers. */
    peakHeapTotal?: number
    peakExternal?: number
  }
  outage: { facts: number; seconds: number; peakRss: number; plateauRss: number; peakInflightBytes: number }
  /** From the broker's start command: until everything was delivered, and until the broker was ready. */
  recovery: { seconds: number; brokerSeconds: number; peakRss: number }
  /** The kernel's record of the process's largest resident set. */
  vmHwm: number
  samples: MemorySample[]
}

export interface MemoryResult {
  command: string
  maxInflightBytes: number
  repeats: number
  runs: MemoryRun[]
  idleRss: Summary
  fullSpeedPeakRss: Summary
  fullSpeedMedianRss: Summary
  fullSpeedPeakHeapTotal?: Summary
  fullSpeedPeakExternal?: Summary
  outagePeakRss: Summary
  outagePlateauRss: Summary
  outagePeakInflightBytes: Summary
  recoverySeconds: Summary
  brokerStartSeconds: Summary
  startedRss: Summary
}

export function defaults(quick: boolean): Required<MemoryOptions> {
  return quick
    ? { repeats: 1, fullSpeedFacts: 5_000, outageFacts: 8_000, outageMs: 1000 }
    : { repeats: 3, fullSpeedFacts: 40_000, outageFacts: 60_000, outageMs: 6000 }
}

export async function measure(context: BenchContext, options: MemoryOptions = {}): Promise<MemoryResult> {
  const { services, log } = context
  const settings = { ...defaults(context.quick), ...options }
  // The relay's default; FACTLIB_BENCH_MAX_INFLIGHT_BYTES measures another bound.
  const maxInflightBytes = Number(process.env.FACTLIB_BENCH_MAX_INFLIGHT_BYTES || 64 * MiB)
  const runs: MemoryRun[] = []
  await ensureTopics(services.kafka.brokers, [TOPIC])
  for (let rep = 0; rep < settings.repeats; rep++) {
    const db = await createDatabase(services.url, 'bench_mem')
    const positions = await positionReader(db.url)
    try {
      await createSlots(db.url, 'bench_pub', ['relay'])
      const samples: MemorySample[] = []
      let phase: Phase = 'started'
      const started = performance.now()
      const relay = await startStreamingRelay({
        DATABASE_URL: db.url,
        FACTLIB_SLOT: 'relay',
        FACTLIB_PUBLICATION: 'bench_pub',
        FACTLIB_CREATE_SLOT: 'false',
        FACTLIB_MAX_INFLIGHT_BYTES: String(maxInflightBytes),
        KAFKA_BROKERS: services.kafka.brokers.join(','),
      })
      let inflightBytes = 0
      let heapTotalBytes = 0
      let externalBytes = 0
      const sampler = setInterval(() => {
        const { rss } = memory(relay.pid)
        const t = (performance.now() - started) / 1000
        if (rss > 0) samples.push({ t, rss, inflightBytes, heapTotalBytes, externalBytes, phase })
      }, 100)
      const scraper = setInterval(() => {
        relay.metrics().then(
          (snapshot) => {
            inflightBytes = snapshot.inflightBytes
            heapTotalBytes = snapshot.heapTotalBytes
            externalBytes = snapshot.externalBytes
          },
          () => {},
        )
      }, 250)
      const until = async (what: string, done: () => Promise<boolean>, timeoutMs = 300_000) => {
        const deadline = Date.now() + timeoutMs
        while (!(await done())) {
          if (Date.now() > deadline) throw new Error(`relay-memory: timed out waiting for ${what}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      const confirmedPast = (mark: bigint) => async () => ((await positions.confirmed('relay')) ?? 0n) > mark
      const inPhase = (name: Phase) => samples.filter((sample) => sample.phase === name)
      const peak = (name: Phase) => Math.max(0, ...inPhase(name).map((sample) => sample.rss))
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const startedRss = memory(relay.pid).rss
        // Committed faster than the relay relays them: it runs flat out until it has caught up.
        phase = 'full speed'
        const fullStart = performance.now()
        const fullSpeedEnd = await emitBacklog(db.url, settings.fullSpeedFacts, 1024)
        await until('the full-speed backlog', confirmedPast(fullSpeedEnd))
        const fullSeconds = (performance.now() - fullStart) / 1000
        phase = 'idle'
        await new Promise((resolve) => setTimeout(resolve, 1500))
        const idleRss = memory(relay.pid).rss

        await services.kafka.stop()
        phase = 'Kafka stopped'
        const outageStart = performance.now()
        const outageEnd = await emitBacklog(db.url, settings.outageFacts, 1024, settings.fullSpeedFacts)
        // Every fact is committed now: the relay reads until its in-flight limit and must then hold still.
        await new Promise((resolve) => setTimeout(resolve, settings.outageMs))
        const outageSeconds = (performance.now() - outageStart) / 1000

        phase = 'recovery'
        const recoveryStart = performance.now()
        await services.kafka.start()
        const brokerSeconds = (performance.now() - recoveryStart) / 1000
        await until('the relay to deliver what it held', confirmedPast(outageEnd))
        const recoverySeconds = (performance.now() - recoveryStart) / 1000
        await new Promise((resolve) => setTimeout(resolve, 300))
        clearInterval(sampler)
        clearInterval(scraper)
        const outageSamples = inPhase('Kafka stopped')
        const fullSpeedPeak = inPhase('full speed').reduce<MemorySample | undefined>(
          (top, sample) => (top && top.rss >= sample.rss ? top : sample),
          undefined,
        )
        const plateau = outageSamples.slice(Math.floor(outageSamples.length / 2)).map((sample) => sample.rss)
        const run: MemoryRun = {
          rep,
          startedRss,
          idleRss,
          fullSpeed: {
            facts: settings.fullSpeedFacts,
            seconds: fullSeconds,
            peakRss: fullSpeedPeak?.rss ?? 0,
            medianRss: summarize(inPhase('full speed').map((sample) => sample.rss)).median,
            peakHeapTotal: fullSpeedPeak?.heapTotalBytes,
            peakExternal: fullSpeedPeak?.externalBytes,
          },
          outage: {
            facts: settings.outageFacts,
            seconds: outageSeconds,
            peakRss: peak('Kafka stopped'),
            plateauRss: summarize(plateau).median,
            peakInflightBytes: Math.max(0, ...outageSamples.map((sample) => sample.inflightBytes)),
          },
          recovery: { seconds: recoverySeconds, brokerSeconds, peakRss: peak('recovery') },
          vmHwm: memory(relay.pid).peak,
          samples,
        }
        runs.push(run)
        log(
          `relay-memory rep ${rep + 1}/${settings.repeats}: idle ${format(run.idleRss / MiB)} MiB, full speed peak ` +
            `${format(run.fullSpeed.peakRss / MiB)} MiB, Kafka stopped peak ${format(run.outage.peakRss / MiB)} MiB ` +
            `(in flight ≤ ${format(run.outage.peakInflightBytes / MiB)} MiB), recovered in ${run.recovery.seconds.toFixed(1)} s`,
        )
      } finally {
        clearInterval(sampler)
        clearInterval(scraper)
        await relay.stop()
      }
    } finally {
      await positions.close()
      await db.drop()
    }
  }
  const of = (pick: (run: MemoryRun) => number) => summarize(runs.map(pick))
  return {
    command: COMMAND,
    maxInflightBytes,
    repeats: settings.repeats,
    runs,
    idleRss: of((run) => run.idleRss),
    fullSpeedPeakRss: of((run) => run.fullSpeed.peakRss),
    fullSpeedMedianRss: of((run) => run.fullSpeed.medianRss),
    fullSpeedPeakHeapTotal: of((run) => run.fullSpeed.peakHeapTotal ?? 0),
    fullSpeedPeakExternal: of((run) => run.fullSpeed.peakExternal ?? 0),
    outagePeakRss: of((run) => run.outage.peakRss),
    outagePlateauRss: of((run) => run.outage.plateauRss),
    outagePeakInflightBytes: of((run) => run.outage.peakInflightBytes),
    recoverySeconds: of((run) => run.recovery.seconds),
    brokerStartSeconds: of((run) => run.recovery.brokerSeconds),
    startedRss: of((run) => run.startedRss),
  }
}

export function printMemory(result: MemoryResult): string {
  const mib = (summary: Summary) =>
    formatSummary({
      ...summary,
      median: summary.median / MiB,
      min: summary.min / MiB,
      max: summary.max / MiB,
    })
  return [
    `\nrelay RSS, MiB, median (min–max) over ${result.repeats} repeats:`,
    `  started, before any fact   ${mib(result.startedRss)}`,
    `  idle after draining        ${mib(result.idleRss)}`,
    `  full speed (1 KB), peak    ${mib(result.fullSpeedPeakRss)}   median ${mib(result.fullSpeedMedianRss)}`,
    ...(result.fullSpeedPeakHeapTotal && result.fullSpeedPeakExternal
      ? [
          `    of which V8 heap ${mib(result.fullSpeedPeakHeapTotal)}, Buffers outside it ${mib(result.fullSpeedPeakExternal)}`,
        ]
      : []),
    `  Kafka stopped, peak        ${mib(result.outagePeakRss)}   plateau ${mib(result.outagePlateauRss)}   in flight ≤ ${mib(result.outagePeakInflightBytes)} (limit ${result.maxInflightBytes / MiB})`,
    `  broker start → everything delivered: ${formatSummary(result.recoverySeconds, 2)} s (the broker itself took ${formatSummary(result.brokerStartSeconds, 2)} s to be ready)`,
  ].join('\n')
}

if (isMain(import.meta.url)) await runStandalone('relay-memory', (context) => measure(context), printMemory)
