// What Kafka and kafkajs manage on their own: the relay's records (same topic, keys, headers and sizes),
// produced back to back with the relay's producer settings (idempotent, acks=all, one request in flight,
// requests of at most 1 MB and 5,000 records). Prints `warm` once the warm-up records are acknowledged,
// then as JSON the time for the records after the warm-up and for all of them.
//
//   npx tsx bench/kafka-producer.ts <brokers> <topic> <records> <warm-up records> <payload bytes>

import type { Fact } from '@factlib/emit'
import {
  type BenchRecord,
  benchEmitter,
  benchProducer,
  factInput,
  kafkaRecord,
  recordBytes,
} from './facts.js'

const [brokers, topic, countText, warmText, bytesText] = process.argv.slice(2)
if (!brokers || !topic || !countText || !warmText || !bytesText) {
  process.stderr.write(
    'usage: kafka-producer.ts <brokers> <topic> <records> <warm-up records> <payload bytes>\n',
  )
  process.exit(2)
}
const [count, warm, bytes] = [Number(countText), Number(warmText), Number(bytesText)]
const emitter = benchEmitter()
const records: BenchRecord[] = []
for (let n = 0; n < warm + count; n++)
  records.push(kafkaRecord(emitter.prepare(factInput(n, bytes)).facts[0] as Fact, topic))

const producer = benchProducer('factlib-bench-producer', brokers, {
  connectionTimeout: 3_000,
  requestTimeout: 30_000,
})
await producer.connect()

async function produce(from: number, to: number): Promise<void> {
  let batch: BenchRecord[] = []
  let batchBytes = 0
  const flush = async () => {
    if (batch.length === 0) return
    const byTopic = new Map<string, BenchRecord[]>()
    for (const record of batch) {
      const list = byTopic.get(record.topic)
      if (list) list.push(record)
      else byTopic.set(record.topic, [record])
    }
    await producer.sendBatch({
      acks: -1,
      timeout: 10_000,
      topicMessages: [...byTopic].map(([name, messages]) => ({
        topic: name,
        messages: messages.map(({ key, value, headers }) => ({ key, value, headers })),
      })),
    })
    batch = []
    batchBytes = 0
  }
  for (let n = from; n < to; n++) {
    const record = records[n] as BenchRecord
    const size = recordBytes(record)
    if (batch.length >= 5000 || (batch.length > 0 && batchBytes + size > 1_000_000)) await flush()
    batch.push(record)
    batchBytes += size
  }
  await flush()
}

const first = performance.now()
await produce(0, warm)
process.stdout.write('warm\n')
const started = performance.now()
await produce(warm, warm + count)
const ended = performance.now()
const [seconds, allSeconds] = [(ended - started) / 1000, (ended - first) / 1000]
process.stdout.write(`${JSON.stringify({ records: count, seconds, allRecords: warm + count, allSeconds })}\n`)
await producer.disconnect()
process.exit(0)
