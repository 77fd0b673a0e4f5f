// Relay resident memory through its phases, one relay process per repeat: bench/README.md, "Relay memory".
// FACTLIB_BENCH_MAX_INFLIGHT_BYTES measures another in-flight bound.
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
  const runs = []
  for (let rep = 0; rep < settings.repeats; rep++) {
    const env = { FACTLIB_MAX_INFLIGHT_BYTES: String(maxInflightBytes) }
    const run = await withRelay(services, env, async (relay, url) => {
      const started = performance.now()
      let [phase, scraped] = ['started' as Phase, (await relay.metrics()).memory]
      const samples: Array<typeof scraped & { t: number; rss: number; files: number; phase: Phase }> = []
      const scrape = async () => {
        scraped = (await relay.metrics()).memory
      }
      // RSS every 100 ms, with what the relay's /metrics said last (read every 250 ms).
      const sampler = setInterval(() => {
        const { rss, files } = memory(relay.pid)
        if (rss > 0) samples.push({ t: (performance.now() - started) / 1000, rss, files, ...scraped, phase })
      }, 100)
      const scraper = setInterval(() => void scrape().catch(() => {}), 250)
      const positions = await positionReader(url)
      const confirmed = async () => (await positions.read('relay')).confirmed ?? 0n
      const confirmedPast = (mark: bigint, what: string) =>
        waitFor(what, async () => (await confirmed()) > mark, { timeoutMs: 300_000, intervalMs: 20 })
      const inPhase = (name: Phase) => samples.filter((sample) => sample.phase === name)
      const peak = (name: Phase) => inPhase(name).sort((a, b) => b.rss - a.rss)[0]
      try {
        await sleep(1000)
        const startedRss = memory(relay.pid).rss
        phase = 'full speed'
        await confirmedPast(await emitBacklog(url, settings.fullSpeedFacts, 1024), 'the full-speed backlog')
        phase = 'idle'
        await sleep(1500)
        const idleRss = memory(relay.pid).rss
        await services.kafka.stop()
        phase = 'Kafka stopped'
        const outageEnd = await emitBacklog(url, settings.outageFacts, 1024, settings.fullSpeedFacts)
        // Every fact is committed now: the relay reads until its in-flight bound and must then hold still.
        await sleep(settings.outageMs)
        phase = 'recovery'
        const recoveryStart = performance.now()
        await services.kafka.start()
        const brokerSeconds = (performance.now() - recoveryStart) / 1000
        await confirmedPast(outageEnd, 'the relay to deliver what it held')
        const recoverySeconds = (performance.now() - recoveryStart) / 1000
        await sleep(300)
        const [outage, fullSpeed] = [inPhase('Kafka stopped'), peak('full speed')]
        return {
          arm: 'relay',
          rep,
          startedRss,
          idleRss,
          fullSpeedPeakRss: fullSpeed?.rss ?? 0,
          fullSpeedPeakHeap: fullSpeed?.heapTotalBytes ?? 0,
          fullSpeedPeakBuffers: fullSpeed?.externalBytes ?? 0,
          fullSpeedPeakFiles: fullSpeed?.files ?? 0,
          fullSpeedMedianRss: summarize(inPhase('full speed').map((sample) => sample.rss)).median,
          outagePeakRss: peak('Kafka stopped')?.rss ?? 0,
          outagePlateauRss: summarize(outage.slice(Math.floor(outage.length / 2)).map((sample) => sample.rss))
            .median,
          outagePeakInflightBytes: Math.max(0, ...outage.map((sample) => sample.inflightBytes)),
          recoverySeconds,
          brokerSeconds,
          samples,
        }
      } finally {
        clearInterval(sampler)
        clearInterval(scraper)
        await positions.close()
      }
    })
    runs.push(run)
    const [fullSpeed, outage] = [format(run.fullSpeedPeakRss / MiB), format(run.outagePeakRss / MiB)]
    log(`relay-memory rep ${rep + 1}: peak RSS ${fullSpeed} MiB at full speed, ${outage} MiB Kafka stopped`)
  }
  return { ...settings, maxInflightBytes, runs }
}
