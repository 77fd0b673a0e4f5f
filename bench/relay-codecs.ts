// The relay draining one 1 KB backlog with each KAFKA_COMPRESSION, codecs alternating, each repeat to its
// own topic: what the broker stores per fact (its partitions' log segments) and the relay's CPU per fact.
// A codec the relay refuses at start is skipped with the reason.
import { withBacklog } from './db.js'
import { type DrainRun, drain } from './drain.js'
import { type BenchContext, log, sleep } from './services.js'
import { format, rotate } from './stats.js'

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

export async function measure({ services, quick, arms }: BenchContext) {
  const repeats = quick ? 1 : 3
  const size = { bytes: 1024, facts: quick ? 4_000 : 40_000, warm: quick ? 1_000 : 10_000 }
  const unavailable: Record<string, string> = {}
  const runs: Array<DrainRun & { brokerBytesPerFact: number }> = []
  const slot = (codec: string, rep: number) => `codec_${codec}_${rep}`
  const slots = CODECS.flatMap((codec) => Array.from({ length: repeats }, (_, rep) => slot(codec, rep)))
  await withBacklog(services, slots, size, async (backlog) => {
    for (let rep = 0; rep < repeats; rep++)
      for (const codec of rotate(CODECS, rep)) {
        if (unavailable[codec] || (arms && !arms.includes(codec))) continue
        await sleep(500)
        const topic = `codec-${codec}-${rep}`
        const env = {
          FACTLIB_TOPIC: `${topic}.{source}.{aggregateType}`,
          ...(codec === 'none' ? {} : { KAFKA_COMPRESSION: codec }),
        }
        try {
          const run = await drain(backlog, slot(codec, rep), 'relay', { env })
          const brokerBytesPerFact = services.topicBytes(`${topic}.bench.order`) / (size.warm + size.facts)
          runs.push({ arm: codec, rep, ...run, brokerBytesPerFact })
          log(`relay-codecs ${codec} rep ${rep + 1}: ${format(brokerBytesPerFact)} B/fact`)
        } catch (error) {
          unavailable[codec] =
            `the relay did not run with it: ${error instanceof Error ? error.message : error}`
          log(`relay-codecs ${codec}: skipped, ${unavailable[codec]}`)
        }
      }
  })
  return { repeats, ...size, runs, unavailable }
}
