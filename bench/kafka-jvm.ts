// Why the benchmarks override the harness's JVM options for the broker: the same kafkajs producer run
// (the relay's records and settings) against a broker started with the harness's fast-start options
// (`-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1`, C1 compiler only) and one started with Kafka's
// own defaults (what bench/services.ts uses), alternating.
//
//   npx tsx bench/kafka-jvm.ts [--quick]
import { startKafka } from '../test/harness/kafka.js'
import { type DrainRun, produceWithKafkajs } from './readers.js'
import { findKafkaPid, KAFKA_PROPERTIES } from './services.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format, formatSummary, type Summary, summarize } from './stats.js'

export const COMMAND = 'npx tsx bench/kafka-jvm.ts'
const TOPIC = 'bench.jvm'

export interface JvmOptions {
  repeats?: number
  records?: number
  warm?: number
}

export interface JvmArm {
  name: 'fast start (harness)' | 'Kafka defaults (benchmarks)'
  jvmOptions: string
  runs: DrainRun[]
  recordsPerSecond: Summary
  /** Broker CPU per record, µs. */
  brokerMicrosPerRecord: Summary
}

export interface JvmResult {
  command: string
  records: number
  repeats: number
  arms: JvmArm[]
  /** defaults ÷ fast start, records/s, paired within each repeat. */
  speedup: Summary
}

export function defaults(quick: boolean): Required<JvmOptions> {
  return quick ? { repeats: 1, records: 5_000, warm: 2_000 } : { repeats: 3, records: 30_000, warm: 10_000 }
}

export async function measure(context: BenchContext, options: JvmOptions = {}): Promise<JvmResult> {
  const { services, log } = context
  const settings = { ...defaults(context.quick), ...options }
  const fast = await startKafka({ properties: KAFKA_PROPERTIES, timeoutMs: 120_000 })
  try {
    const brokers = {
      'fast start (harness)': {
        brokers: fast.brokers,
        pid: () => findKafkaPid(fast.dir),
        jvm: 'harness defaults',
      },
      'Kafka defaults (benchmarks)': {
        brokers: services.kafka.brokers,
        pid: () => services.kafkaPid,
        jvm: services.kafkaJvmOptions.join(' '),
      },
    }
    const names = Object.keys(brokers) as JvmArm['name'][]
    for (const name of names) await ensureTopics(brokers[name].brokers, [TOPIC])
    const runs = new Map<JvmArm['name'], DrainRun[]>(names.map((name) => [name, []]))
    for (let rep = 0; rep < settings.repeats; rep++)
      for (const name of rep % 2 ? [...names].reverse() : names) {
        const target = brokers[name]
        const run = await produceWithKafkajs(
          target.brokers,
          TOPIC,
          settings.records,
          settings.warm,
          1024,
          target.pid(),
        )
        runs.get(name)?.push(run)
        log(`kafka-jvm ${name} rep ${rep + 1}/${settings.repeats}: ${format(run.factsPerSecond)} records/s`)
      }
    const arms: JvmArm[] = names.map((name) => {
      const mine = runs.get(name) ?? []
      return {
        name,
        jvmOptions: brokers[name].jvm,
        runs: mine,
        recordsPerSecond: summarize(mine.map((run) => run.factsPerSecond)),
        brokerMicrosPerRecord: summarize(mine.map((run) => run.cpuPerFact.kafka ?? Number.NaN)),
      }
    })
    const [fastRuns, defaultRuns] = names.map((name) => runs.get(name) ?? [])
    return {
      command: COMMAND,
      records: settings.records,
      repeats: settings.repeats,
      arms,
      speedup: summarize(
        (defaultRuns ?? []).map(
          (run, rep) => run.factsPerSecond / ((fastRuns ?? [])[rep]?.factsPerSecond ?? Number.NaN),
        ),
      ),
    }
  } finally {
    await fast.destroy()
  }
}

export function printJvm(result: JvmResult): string {
  return [
    `\nkafkajs producing ${result.records} 1 KB records, ${result.repeats} repeats, median (min–max):`,
    ...result.arms.map(
      (arm) =>
        `  ${arm.name.padEnd(28)} ${formatSummary(arm.recordsPerSecond)} records/s, broker ${formatSummary(arm.brokerMicrosPerRecord)} µs CPU/record`,
    ),
    `  Kafka defaults ÷ fast start: ${formatSummary(result.speedup, 3)}`,
  ].join('\n')
}

if (isMain(import.meta.url)) await runStandalone('kafka-jvm', (context) => measure(context), printJvm)
