// Relay throughput against its ceiling, on one backlog per payload size: single-fact transactions written
// before any reader starts, each reader on its own slot created before the backlog, readers alternating.
// Beside them each Kafka client alone produces the same records (no PostgreSQL): the client comparison.
import { createDatabase, createSlots, emitBacklog } from './db.js'
import { type Backlog, bareDecode, type DrainRun, drain, produce, recvlogical, relay } from './drain.js'
import { TOPIC } from './facts.js'
import { type BenchContext, ensureTopics, sleep } from './services.js'
import { format, rotate } from './stats.js'

export const READERS = ['pg_recvlogical', 'bare-decode', 'relay', 'noop-relay'] as const
export const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const
const PRODUCER_TOPIC = 'bench.producer'

export async function measure({ services, quick, log, arms }: BenchContext) {
  const repeats = quick ? 1 : 3
  const sizes = quick
    ? [
        { bytes: 1024, facts: 6_000, warm: 2_000 },
        { bytes: 100, facts: 8_000, warm: 2_000 },
      ]
    : [
        { bytes: 1024, facts: 90_000, warm: 10_000 },
        { bytes: 100, facts: 90_000, warm: 10_000 },
      ]
  const brokers = services.kafka.brokers
  await ensureTopics(brokers, [TOPIC, PRODUCER_TOPIC])
  // Warm the broker (its JIT, the topics' first segments) before anything is measured.
  await produce(
    'kafkajs',
    -1,
    brokers,
    PRODUCER_TOPIC,
    { facts: 5_000, warm: 1_000, bytes: 1024 },
    services.kafkaPid,
  )
  const unavailable: Record<string, string> = {}
  const payloads = []
  for (const size of sizes) {
    const db = await createDatabase(services.url, 'bench_tp')
    try {
      const slots = Array.from({ length: repeats }, (_, rep) =>
        READERS.map((reader) => `${reader.replace('-', '_')}_${rep}`),
      )
      await createSlots(db.url, 'bench_pub', slots.flat())
      const started = performance.now()
      const warmMark = await emitBacklog(db.url, size.warm, size.bytes)
      const endMark = await emitBacklog(db.url, size.facts, size.bytes, size.warm)
      const backlogSeconds = (performance.now() - started) / 1000
      log(
        `relay-throughput ${size.bytes} B: backlog of ${size.warm + size.facts} facts in ${backlogSeconds.toFixed(1)} s`,
      )
      const backlog: Backlog = {
        url: db.url,
        publication: 'bench_pub',
        ...size,
        warmMark,
        endMark,
        kafkaPid: services.kafkaPid,
      }
      const runs: DrainRun[] = []
      for (let rep = 0; rep < repeats; rep++)
        for (const arm of rotate([...READERS, ...CLIENTS], rep)) {
          if (unavailable[arm] || (arms && !arms.includes(arm))) continue
          await sleep(500)
          const slot = `${arm.replace('-', '_')}_${rep}`
          const kafka = { KAFKA_BROKERS: brokers.join(','), FACTLIB_TOPIC_PARTITIONS: '6' }
          const run = await (arm === 'pg_recvlogical'
            ? drain(arm, rep, backlog, slot, recvlogical(backlog, slot))
            : arm === 'bare-decode'
              ? drain(arm, rep, backlog, slot, bareDecode(backlog, slot))
              : arm === 'relay' || arm === 'noop-relay'
                ? drain(arm, rep, backlog, slot, relay(backlog, slot, kafka, { noop: arm === 'noop-relay' }))
                : produce(arm, rep, brokers, PRODUCER_TOPIC, size, services.kafkaPid))
          if ('unavailable' in run) {
            unavailable[arm] = run.unavailable
            log(`relay-throughput ${arm}: skipped, ${run.unavailable}`)
            continue
          }
          runs.push({ ...run, arm })
          log(
            `relay-throughput ${size.bytes} B rep ${rep + 1}/${repeats} ${arm}: ${format(run.rate)} facts/s`,
          )
        }
      payloads.push({ ...size, backlogSeconds, runs })
    } finally {
      await db.drop()
    }
  }
  return { repeats, payloads, unavailable }
}

export type ThroughputResult = Awaited<ReturnType<typeof measure>>
