// Relay throughput against its ceiling, on one backlog per payload size: N single-fact transactions
// written before any reader starts, each reader on its own slot created before the backlog. The ceiling is
// the faster of pg_recvlogical and a bare pg-logical-replication decode; Kafka's own rate (kafkajs
// producing the same records with the relay's settings) shows which side limits.
//
//   npx tsx bench/relay-throughput.ts [--quick]
import { createDatabase, createSlots, emitBacklog } from './db.js'
import { TOPIC } from './facts.js'
import {
  type Backlog,
  type DrainRun,
  drainWithBareDecode,
  drainWithRecvlogical,
  drainWithRelay,
  produceWithKafkajs,
  type ReaderName,
} from './readers.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format, formatSummary, type Summary, summarize } from './stats.js'

export const COMMAND = 'npx tsx bench/relay-throughput.ts'
export const RAW_TOPIC = 'bench.kafkajs'
const READERS: ReaderName[] = ['pg_recvlogical', 'pg-logical-replication', 'relay', 'kafkajs']

export interface ThroughputOptions {
  repeats?: number
  payloads?: Array<{ bytes: number; facts: number; warm: number }>
}

export interface PayloadThroughput {
  bytes: number
  /** Measured facts per run (after `warm` warm-up facts). */
  facts: number
  warm: number
  backlogSeconds: number
  runs: DrainRun[]
  /** Drain rates (the ceiling's definition: every fact over the whole drain). */
  rates: Record<ReaderName, Summary>
  /** Per repeat: the faster of pg_recvlogical and the bare decode. */
  ceiling: Summary
  /** Per repeat: relay ÷ that repeat's ceiling. */
  relayOverCeiling: Summary
  /** Per repeat: relay ÷ Kafka's own rate. */
  relayOverKafka: Summary
  /** The same from the steady rates (warm-up facts left out). */
  steady: {
    rates: Record<ReaderName, Summary>
    ceiling: Summary
    relayOverCeiling: Summary
    relayOverKafka: Summary
  }
  /** Cores each process used while each reader ran (median over repeats). */
  cpu: Record<ReaderName, Record<string, Summary>>
  /** CPU microseconds per fact of the walsender, the reader process and the broker. */
  cpuPerFact: Record<ReaderName, Record<string, Summary>>
}

export interface ThroughputResult {
  command: string
  repeats: number
  payloads: PayloadThroughput[]
}

export function defaults(quick: boolean): Required<ThroughputOptions> {
  return quick
    ? {
        repeats: 1,
        payloads: [
          { bytes: 1024, facts: 6_000, warm: 2_000 },
          { bytes: 100, facts: 8_000, warm: 2_000 },
        ],
      }
    : {
        repeats: 3,
        payloads: [
          { bytes: 1024, facts: 60_000, warm: 10_000 },
          { bytes: 100, facts: 90_000, warm: 10_000 },
        ],
      }
}

export async function measure(
  context: BenchContext,
  options: ThroughputOptions = {},
): Promise<ThroughputResult> {
  const { services, log } = context
  const { repeats, payloads } = { ...defaults(context.quick), ...options }
  await ensureTopics(services.kafka.brokers, [TOPIC, RAW_TOPIC])
  // Warm the broker (its JIT, the topics' first segments) before anything is measured.
  await produceWithKafkajs(services.kafka.brokers, RAW_TOPIC, 5_000, 1_000, 1024, services.kafkaPid)
  const results: PayloadThroughput[] = []
  for (const payload of payloads) {
    const db = await createDatabase(services.url, 'bench_tp')
    try {
      const publication = 'bench_pub'
      const slots = (reader: string) => Array.from({ length: repeats }, (_, rep) => `${reader}_${rep}`)
      await createSlots(db.url, publication, [...slots('recv'), ...slots('bare'), ...slots('relay')])
      const started = performance.now()
      const warmMark = await emitBacklog(db.url, payload.warm, payload.bytes)
      const endMark = await emitBacklog(db.url, payload.facts, payload.bytes, payload.warm)
      const backlogSeconds = (performance.now() - started) / 1000
      log(
        `relay-throughput ${payload.bytes} B: backlog of ${payload.warm + payload.facts} facts in ${backlogSeconds.toFixed(1)} s`,
      )
      const backlog: Backlog = {
        url: db.url,
        publication,
        facts: payload.facts,
        warm: payload.warm,
        warmMark,
        endMark,
        kafkaPid: services.kafkaPid,
      }
      const runs: DrainRun[] = []
      for (let rep = 0; rep < repeats; rep++) {
        // Each repeat starts with a different reader, so no reader always runs first or last.
        const order = READERS.map((_, i) => READERS[(i + rep) % READERS.length] as ReaderName)
        for (const reader of order) {
          await new Promise((resolve) => setTimeout(resolve, 500))
          const result = await drain(reader, backlog, rep, context, payload)
          log(
            `relay-throughput ${payload.bytes} B rep ${rep + 1}/${repeats} ${reader}: ${format(result.factsPerSecond)} facts/s`,
          )
          runs.push(result)
        }
      }
      results.push(summarizePayload(payload, backlogSeconds, runs, repeats))
    } finally {
      await db.drop()
    }
  }
  return {
    command: COMMAND,
    repeats,
    payloads: results,
  }
}

function drain(
  reader: ReaderName,
  backlog: Backlog,
  rep: number,
  { services }: BenchContext,
  payload: { bytes: number; facts: number; warm: number },
): Promise<DrainRun> {
  switch (reader) {
    case 'pg_recvlogical':
      return drainWithRecvlogical(backlog, `recv_${rep}`)
    case 'pg-logical-replication':
      return drainWithBareDecode(backlog, `bare_${rep}`)
    case 'relay':
      return drainWithRelay(backlog, `relay_${rep}`, {
        KAFKA_BROKERS: services.kafka.brokers.join(','),
        FACTLIB_TOPIC_PARTITIONS: '6',
      })
    case 'kafkajs':
      return produceWithKafkajs(
        services.kafka.brokers,
        RAW_TOPIC,
        payload.facts,
        payload.warm,
        payload.bytes,
        services.kafkaPid,
      )
  }
}

function summarizePayload(
  payload: { bytes: number; facts: number; warm: number },
  backlogSeconds: number,
  runs: DrainRun[],
  repeats: number,
): PayloadThroughput {
  const reps = Array.from({ length: repeats }, (_, rep) => rep)
  const ratios = (pick: (run: DrainRun) => number) => {
    const rateOf = (reader: ReaderName, rep: number) => {
      const run = runs.filter((candidate) => candidate.reader === reader)[rep]
      return run ? pick(run) : Number.NaN
    }
    const ceilings = reps.map((rep) =>
      Math.max(rateOf('pg_recvlogical', rep), rateOf('pg-logical-replication', rep)),
    )
    return {
      rates: Object.fromEntries(
        READERS.map((reader) => [reader, summarize(runs.filter((run) => run.reader === reader).map(pick))]),
      ) as Record<ReaderName, Summary>,
      ceiling: summarize(ceilings),
      relayOverCeiling: summarize(reps.map((rep) => rateOf('relay', rep) / (ceilings[rep] as number))),
      relayOverKafka: summarize(reps.map((rep) => rateOf('relay', rep) / rateOf('kafkajs', rep))),
    }
  }
  const cpu = Object.fromEntries(
    READERS.map((reader) => {
      const mine = runs.filter((run) => run.reader === reader)
      const names = new Set(
        mine.flatMap((run) => [...Object.keys(run.cpu.processes), 'ours', 'foreign', 'steal']),
      )
      return [
        reader,
        Object.fromEntries(
          [...names].map((name) => [
            name,
            summarize(
              mine.map((run) =>
                name === 'ours' || name === 'foreign' || name === 'steal'
                  ? run.cpu[name]
                  : (run.cpu.processes[name] ?? Number.NaN),
              ),
            ),
          ]),
        ),
      ]
    }),
  ) as Record<ReaderName, Record<string, Summary>>
  const cpuPerFact = Object.fromEntries(
    READERS.map((reader) => {
      const mine = runs.filter((run) => run.reader === reader)
      const names = new Set(mine.flatMap((run) => Object.keys(run.cpuPerFact)))
      return [
        reader,
        Object.fromEntries(
          [...names].map((name) => [name, summarize(mine.map((run) => run.cpuPerFact[name] ?? Number.NaN))]),
        ),
      ]
    }),
  ) as Record<ReaderName, Record<string, Summary>>
  return {
    ...payload,
    backlogSeconds,
    runs,
    ...ratios((run) => run.drainFactsPerSecond),
    steady: ratios((run) => run.factsPerSecond),
    cpu,
    cpuPerFact,
  }
}

export function printThroughput(result: ThroughputResult): string {
  const lines: string[] = []
  for (const payload of result.payloads) {
    lines.push(
      `\n${payload.bytes} B payloads, drains of ${payload.warm + payload.facts} facts (${result.repeats} repeats, median (min–max)):`,
    )
    for (const reader of READERS) {
      const cpu = payload.cpu[reader]
      const usage = ['walsender', 'reader', 'kafka']
        .map((name) => `${name} ${cpu?.[name] ? format(cpu[name].median, 2) : '–'}`)
        .join(', ')
      lines.push(
        `  ${reader.padEnd(24)} ${formatSummary(payload.rates[reader]).padEnd(34)} facts/s   cores: ${usage}`,
      )
    }
    lines.push(`  ceiling                  ${formatSummary(payload.ceiling)} facts/s`)
    lines.push(`  relay ÷ ceiling          ${formatSummary(payload.relayOverCeiling, 3)}`)
    lines.push(`  relay ÷ kafkajs          ${formatSummary(payload.relayOverKafka, 3)}`)
    lines.push(
      `  steady (warm-up left out): relay ÷ ceiling ${formatSummary(payload.steady.relayOverCeiling, 3)}, ` +
        `relay ÷ kafkajs ${formatSummary(payload.steady.relayOverKafka, 3)}`,
    )
  }
  return lines.join('\n')
}

if (isMain(import.meta.url))
  await runStandalone('relay-throughput', (context) => measure(context), printThroughput)
