// Why the benchmarks override the harness's JVM options for the broker: kafkajs producing the relay's
// records against a broker started with the harness's fast-start options and one with Kafka's own defaults
// (what bench/services.ts uses), alternating. Not part of --quick: it starts a second broker.
import { startKafka } from '../test/harness/kafka.js'
import { type DrainRun, produce } from './drain.js'
import { type BenchContext, ensureTopics, KAFKA_PROPERTIES, log } from './services.js'
import { format, rotate } from './stats.js'

export async function measure({ services, quick }: BenchContext) {
  if (quick) return undefined
  const settings = { repeats: 3, records: 30_000, warm: 10_000 }
  const fast = await startKafka({ properties: KAFKA_PROPERTIES, timeoutMs: 120_000 })
  try {
    const brokers = { 'fast start (harness)': fast, 'Kafka defaults (benchmarks)': services.kafka }
    for (const broker of Object.values(brokers)) await ensureTopics(broker.brokers, ['bench.jvm'])
    const runs: DrainRun[] = []
    const size = { facts: settings.records, warm: settings.warm, bytes: 1024 }
    for (let rep = 0; rep < settings.repeats; rep++)
      for (const arm of rotate(Object.keys(brokers) as Array<keyof typeof brokers>, rep)) {
        const run = await produce('kafkajs', brokers[arm], 'bench.jvm', size)
        if ('unavailable' in run) throw new Error(run.unavailable)
        runs.push({ arm, rep, ...run })
        log(`kafka-jvm ${arm} rep ${rep + 1}/${settings.repeats}: ${format(run.steadyRate)} records/s`)
      }
    return { ...settings, runs }
  } finally {
    await fast.destroy()
  }
}
