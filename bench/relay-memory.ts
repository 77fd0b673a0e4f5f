// Relay resident memory through its phases, one relay process per repeat: bench/README.md, "Relay memory".
import { CONFIG_VARIABLES } from '@factlib/relay'
import { waitFor } from '../test/harness/wait.js'
import { emitBacklog, positionReader } from './db.js'
import { TOPIC } from './facts.js'
import { memory } from './proc.js'
import { withRelay } from './relay-process.js'
import { type BenchContext, ensureTopics, log, sleep } from './services.js'
import { format, summarize } from './stats.js'

type Phase = 'started' | 'full speed' | 'idle' | 'Kafka stopped' | 'recovery'
const MiB = 1024 * 1024

export async function measure({ services, quick }: BenchContext) {
  const settings = quick
    ? { repeats: 1, fullSpeedFacts: 5_000, outageFacts: 8_000, outageMs: 1000 }
    : { repeats: 3, fullSpeedFacts: 40_000, outageFacts: 60_000, outageMs: 6000 }
  const maxInflightBytes = Number(
    process.env.FACTLIB_BENCH_MAX_INFLIGHT_BYTES || CONFIG_VARIABLES.FACTLIB_MAX_INFLIGHT_BYTES.default,
  )
  await ensureTopics(services.kafka.brokers, [TOPIC])
  const env = { FACTLIB_MAX_INFLIGHT_BYTES: String(maxInflightBytes) }
  const runs = []
  const noopRuns = []
  for (let rep = 0; rep < settings.repeats; rep++) {
    const run = await withRelay(services, env, async (relay, url) => {
      const { watch, positions, fullSpeed, confirmedPast } = await startedAndFullSpeed(relay, url, settings)
      try {
        watch.phase = 'idle'
        await sleep(1500)
        const idleRss = memory(relay.pid).rss
        await services.kafka.stop()
        watch.phase = 'Kafka stopped'
        const outageEnd = await emitBacklog(url, settings.outageFacts, 1024, settings.fullSpeedFacts)
        // Every fact is committed now: the relay reads until its in-flight bound and must then hold still.
        await sleep(settings.outageMs)
        watch.phase = 'recovery'
        const recoveryStart = performance.now()
        await services.kafka.start()
        const brokerSeconds = (performance.now() - recoveryStart) / 1000
        await confirmedPast(outageEnd, 'the relay to deliver what it held')
        const recoverySeconds = (performance.now() - recoveryStart) / 1000
        await sleep(300)
        const outage = watch.inPhase('Kafka stopped')
        const plateau = outage.slice(Math.floor(outage.length / 2)).map((sample) => sample.rss)
        return {
          ...fullSpeed,
          arm: 'relay',
          rep,
          idleRss,
          outagePeakRss: watch.peak('Kafka stopped')?.rss ?? 0,
          outagePlateauRss: summarize(plateau).median,
          outagePeakInflightBytes: Math.max(0, ...outage.map((sample) => sample.inflightBytes)),
          recoverySeconds,
          brokerSeconds,
          samples: watch.samples,
        }
      } finally {
        watch.stop()
        await positions.close()
      }
    })
    runs.push(run)
    const [fullSpeed, outage] = [format(run.fullSpeedPeakRss / MiB), format(run.outagePeakRss / MiB)]
    log(`relay-memory rep ${rep + 1}: peak RSS ${fullSpeed} MiB at full speed, ${outage} MiB Kafka stopped`)
    // The same relay with a sink that does nothing: no Kafka client loaded, nothing held for an answer.
    const fullSpeedOnly = async (relay: Relay, url: string) => {
      const { watch, positions, fullSpeed } = await startedAndFullSpeed(relay, url, settings)
      watch.stop()
      await positions.close()
      return { ...fullSpeed, arm: 'noop-relay', rep }
    }
    const noop = await withRelay(services, env, fullSpeedOnly, { noop: true })
    noopRuns.push(noop)
    log(`relay-memory rep ${rep + 1}: no-op sink, peak RSS ${format(noop.fullSpeedPeakRss / MiB)} MiB`)
  }
  return { ...settings, maxInflightBytes, runs, noopRuns }
}

/** A second for the start, then a backlog committed faster than the relay drains it, until confirmed. */
async function startedAndFullSpeed(relay: Relay, url: string, settings: { fullSpeedFacts: number }) {
  const watch = watchMemory(relay)
  const positions = await positionReader(url)
  const confirmedPast = (mark: bigint, what: string) =>
    waitFor(what, async () => ((await positions.read('relay')).confirmed ?? 0n) > mark, {
      timeoutMs: 300_000,
      intervalMs: 20,
    })
  try {
    await sleep(1000)
    const startedRss = memory(relay.pid).rss
    watch.phase = 'full speed'
    await confirmedPast(await emitBacklog(url, settings.fullSpeedFacts, 1024), 'the full-speed backlog')
    const peak = watch.peak('full speed')
    const fullSpeed = {
      startedRss,
      fullSpeedPeakRss: peak?.rss ?? 0,
      fullSpeedPeakHeap: peak?.heapTotalBytes ?? 0,
      fullSpeedPeakBuffers: peak?.externalBytes ?? 0,
      fullSpeedPeakFiles: peak?.files ?? 0,
      fullSpeedMedianRss: summarize(watch.inPhase('full speed').map((sample) => sample.rss)).median,
    }
    return { watch, positions, fullSpeed, confirmedPast }
  } catch (error) {
    watch.stop()
    await positions.close()
    throw error
  }
}

type Relay = Parameters<Parameters<typeof withRelay>[2]>[0]

/** RSS every 100 ms, with what the relay's /metrics said last (read every 250 ms), tagged with the phase. */
function watchMemory(relay: Relay) {
  const started = performance.now()
  let scraped = { inflightBytes: 0, heapTotalBytes: 0, externalBytes: 0 }
  const samples: Array<typeof scraped & { t: number; rss: number; files: number; phase: Phase }> = []
  const watch = {
    phase: 'started' as Phase,
    samples,
    inPhase: (name: Phase) => samples.filter((sample) => sample.phase === name),
    peak: (name: Phase) => watch.inPhase(name).sort((a, b) => b.rss - a.rss)[0],
    stop: () => {
      clearInterval(sampler)
      clearInterval(scraper)
    },
  }
  const sampler = setInterval(() => {
    const { rss, files } = memory(relay.pid)
    if (rss > 0)
      samples.push({ t: (performance.now() - started) / 1000, rss, files, ...scraped, phase: watch.phase })
  }, 100)
  const scrape = async () => {
    scraped = (await relay.metrics().catch(() => undefined))?.memory ?? scraped
  }
  const scraper = setInterval(() => void scrape(), 250)
  return watch
}
