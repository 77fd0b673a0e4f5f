// Relay resident memory, one relay process per repeat through its phases: started; full speed (1 KB facts
// committed faster than it relays them); idle; Kafka stopped while more facts than FACTLIB_MAX_INFLIGHT_BYTES
// allows in flight are committed (it must stop reading and hold still); recovery (the broker starts again).
// RSS sampled every 100 ms; in-flight bytes, V8 heap and Buffers from its /metrics every 250 ms.
// FACTLIB_BENCH_MAX_INFLIGHT_BYTES measures another in-flight bound.
import { CONFIG_VARIABLES } from '@factlib/relay'
import { createDatabase, createSlots, emitBacklog, positionReader } from './db.js'
import { TOPIC } from './facts.js'
import { memory } from './proc.js'
import { type RelayMetricsSnapshot, startStreamingRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, sleep } from './services.js'
import { format, summarize } from './stats.js'

export type Phase = 'started' | 'full speed' | 'idle' | 'Kafka stopped' | 'recovery'
const MiB = 1024 * 1024

export async function measure({ services, quick, log }: BenchContext) {
  const settings = quick
    ? { repeats: 1, fullSpeedFacts: 5_000, outageFacts: 8_000, outageMs: 1000 }
    : { repeats: 3, fullSpeedFacts: 40_000, outageFacts: 60_000, outageMs: 6000 }
  const maxInflightBytes = Number(
    process.env.FACTLIB_BENCH_MAX_INFLIGHT_BYTES || CONFIG_VARIABLES.FACTLIB_MAX_INFLIGHT_BYTES.default,
  )
  await ensureTopics(services.kafka.brokers, [TOPIC])
  const runs = []
  for (let rep = 0; rep < settings.repeats; rep++) {
    const db = await createDatabase(services.url, 'bench_mem')
    const positions = await positionReader(db.url)
    try {
      await createSlots(db.url, 'bench_pub', ['relay'])
      const relay = await startStreamingRelay({
        DATABASE_URL: db.url,
        FACTLIB_SLOT: 'relay',
        FACTLIB_PUBLICATION: 'bench_pub',
        FACTLIB_CREATE_SLOT: 'false',
        KAFKA_BROKERS: services.kafka.brokers.join(','),
        FACTLIB_MAX_INFLIGHT_BYTES: String(maxInflightBytes),
      })
      const started = performance.now()
      const samples: Array<
        Omit<RelayMetricsSnapshot, 'latency' | 'relayed'> & { t: number; rss: number; phase: Phase }
      > = []
      let phase: Phase = 'started'
      let scraped = { inflightBytes: 0, heapTotalBytes: 0, externalBytes: 0 }
      const sampler = setInterval(() => {
        const { rss } = memory(relay.pid)
        if (rss > 0) samples.push({ t: (performance.now() - started) / 1000, rss, ...scraped, phase })
      }, 100)
      const scraper = setInterval(() => {
        relay.metrics().then(
          ({ inflightBytes, heapTotalBytes, externalBytes }) => {
            scraped = { inflightBytes, heapTotalBytes, externalBytes }
          },
          () => {},
        )
      }, 250)
      const confirmedPast = async (mark: bigint, what: string) => {
        for (
          const deadline = Date.now() + 300_000;
          ((await positions.confirmed('relay')) ?? 0n) <= mark;
          await sleep(20)
        )
          if (Date.now() > deadline) throw new Error(`relay-memory: timed out waiting for ${what}`)
      }
      const inPhase = (name: Phase) => samples.filter((sample) => sample.phase === name)
      const top = (name: Phase) =>
        inPhase(name).reduce((a, b) => (b.rss > a.rss ? b : a), { rss: 0 } as (typeof samples)[0])
      try {
        await sleep(1000)
        const startedRss = memory(relay.pid).rss
        phase = 'full speed'
        const fullStart = performance.now()
        await confirmedPast(
          await emitBacklog(db.url, settings.fullSpeedFacts, 1024),
          'the full-speed backlog',
        )
        const fullSpeedSeconds = (performance.now() - fullStart) / 1000
        phase = 'idle'
        await sleep(1500)
        const idleRss = memory(relay.pid).rss
        await services.kafka.stop()
        phase = 'Kafka stopped'
        const outageEnd = await emitBacklog(db.url, settings.outageFacts, 1024, settings.fullSpeedFacts)
        // Every fact is committed now: the relay reads until its in-flight bound and must then hold still.
        await sleep(settings.outageMs)
        phase = 'recovery'
        const recoveryStart = performance.now()
        await services.kafka.start()
        const brokerSeconds = (performance.now() - recoveryStart) / 1000
        await confirmedPast(outageEnd, 'the relay to deliver what it held')
        const recoverySeconds = (performance.now() - recoveryStart) / 1000
        await sleep(300)
        const outage = inPhase('Kafka stopped').map((sample) => sample.rss)
        const peak = top('full speed')
        const run = {
          arm: 'relay',
          rep,
          startedRss,
          idleRss,
          fullSpeedSeconds,
          fullSpeedPeakRss: peak.rss,
          fullSpeedPeakHeap: peak.heapTotalBytes,
          fullSpeedPeakBuffers: peak.externalBytes,
          fullSpeedMedianRss: summarize(inPhase('full speed').map((sample) => sample.rss)).median,
          outagePeakRss: top('Kafka stopped').rss,
          outagePlateauRss: summarize(outage.slice(Math.floor(outage.length / 2))).median,
          outagePeakInflightBytes: Math.max(
            0,
            ...inPhase('Kafka stopped').map((sample) => sample.inflightBytes),
          ),
          recoverySeconds,
          brokerSeconds,
          vmHwm: memory(relay.pid).peak,
          samples,
        }
        runs.push(run)
        log(
          `relay-memory rep ${rep + 1}/${settings.repeats}: full speed peak ${format(run.fullSpeedPeakRss / MiB)} MiB, ` +
            `Kafka stopped peak ${format(run.outagePeakRss / MiB)} MiB (in flight ≤ ${format(run.outagePeakInflightBytes / MiB)} MiB)`,
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
  return { ...settings, maxInflightBytes, runs }
}

export type MemoryResult = Awaited<ReturnType<typeof measure>>
