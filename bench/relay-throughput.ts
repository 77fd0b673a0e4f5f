// Relay throughput against its ceiling, on one backlog per payload size: single-fact transactions written
// before any reader starts, each reader on its own slot created before the backlog, arms alternating.
// Beside them each Kafka client alone produces the same records (no PostgreSQL): the client comparison.
import { withBacklog } from './db.js'
import { type DrainRun, drain, produce, type Reader } from './drain.js'
import { TOPIC } from './facts.js'
import { type BenchContext, ensureTopics, log, sleep } from './services.js'
import { format, rotate } from './stats.js'

const READERS: Reader[] = ['pg_recvlogical', 'bare-decode', 'relay', 'noop-relay']
const CLIENTS = ['kafkajs', 'platformatic', 'confluent']
const isReader = (arm: string): arm is Reader => READERS.includes(arm as Reader)

export async function measure({ services, quick, arms }: BenchContext) {
  const repeats = quick ? 1 : 3
  const [warm, facts] = quick ? [2_000, 6_000] : [10_000, 90_000]
  const broker = services.kafka
  await ensureTopics(broker.brokers, [TOPIC, 'bench.producer'])
  // Warm the broker (its JIT, the topics' first segments) before anything is measured.
  await produce('kafkajs', broker, 'bench.producer', { facts: 5_000, warm: 1_000, bytes: 1024 })
  const unavailable: Record<string, string> = {}
  const payloads = []
  for (const bytes of [1024, 100]) {
    const size = { facts, warm, bytes }
    const slot = (reader: string, rep: number) => `${reader.replace('-', '_')}_${rep}`
    const slots = READERS.flatMap((reader) => [0, 1, 2].map((rep) => slot(reader, rep)))
    const runs = await withBacklog(services, slots, size, async (backlog) => {
      const runs: DrainRun[] = []
      for (let rep = 0; rep < repeats; rep++)
        for (const arm of rotate([...READERS, ...CLIENTS], rep)) {
          if (unavailable[arm] || (arms && !arms.includes(arm))) continue
          await sleep(500)
          const run = isReader(arm)
            ? await drain(backlog, slot(arm, rep), arm)
            : await produce(arm, broker, 'bench.producer', size)
          if ('unavailable' in run) unavailable[arm] = run.unavailable
          else runs.push({ arm, rep, ...run })
          const result = 'unavailable' in run ? run.unavailable : format(run.rate)
          log(`relay-throughput ${bytes} B rep ${rep + 1} ${arm}: ${result}`)
        }
      return runs
    })
    payloads.push({ bytes, facts, warm, runs })
  }
  return { repeats, payloads, unavailable }
}
