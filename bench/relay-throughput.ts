// Relay throughput against its ceiling, on one backlog per payload size: single-fact transactions written
// before any reader starts, each reader on its own slot created before the backlog, arms alternating.
// Beside them each Kafka client alone produces the same records (no PostgreSQL): the client comparison.
import { createDatabase, prepareBacklog } from './db.js'
import { type DrainRun, drain, produce, type Reader } from './drain.js'
import { TOPIC } from './facts.js'
import { type BenchContext, ensureTopics, sleep } from './services.js'
import { format, rotate } from './stats.js'

const READERS: Reader[] = ['pg_recvlogical', 'bare-decode', 'relay', 'noop-relay']
const CLIENTS = ['kafkajs', 'platformatic', 'confluent']

export async function measure({ services, quick, log, arms }: BenchContext) {
  const repeats = quick ? 1 : 3
  const [warm, facts] = quick ? [2_000, 6_000] : [10_000, 90_000]
  const brokers = services.kafka.brokers
  await ensureTopics(brokers, [TOPIC, 'bench.producer'])
  // Warm the broker (its JIT, the topics' first segments) before anything is measured.
  await produce(
    'kafkajs',
    -1,
    brokers,
    'bench.producer',
    { facts: 5_000, warm: 1_000, bytes: 1024 },
    services.kafkaPid,
  )
  const unavailable: Record<string, string> = {}
  const payloads = []
  for (const bytes of [1024, 100]) {
    const db = await createDatabase(services.url, 'bench_tp')
    try {
      const slot = (reader: string, rep: number) => `${reader.replace('-', '_')}_${rep}`
      const slots = READERS.flatMap((reader) => [0, 1, 2].map((rep) => slot(reader, rep)))
      const started = performance.now()
      const backlog = {
        ...(await prepareBacklog(db.url, slots, { facts, warm, bytes })),
        kafkaPid: services.kafkaPid,
      }
      const backlogSeconds = (performance.now() - started) / 1000
      const env = { KAFKA_BROKERS: brokers.join(','), FACTLIB_TOPIC_PARTITIONS: '6' }
      const runs: DrainRun[] = []
      for (let rep = 0; rep < repeats; rep++)
        for (const arm of rotate([...READERS, ...CLIENTS], rep)) {
          if (unavailable[arm] || (arms && !arms.includes(arm))) continue
          await sleep(500)
          const run = READERS.includes(arm as Reader)
            ? await drain(arm, rep, backlog, slot(arm, rep), { env })
            : await produce(arm, rep, brokers, 'bench.producer', { facts, warm, bytes }, services.kafkaPid)
          if ('unavailable' in run) unavailable[arm] = run.unavailable
          else runs.push(run)
          log(
            `relay-throughput ${bytes} B rep ${rep + 1} ${arm}: ${'rate' in run ? format(run.rate) : run.unavailable}`,
          )
        }
      payloads.push({ bytes, facts, warm, backlogSeconds, runs })
    } finally {
      await db.drop()
    }
  }
  return { repeats, payloads, unavailable }
}

export type ThroughputResult = Awaited<ReturnType<typeof measure>>
