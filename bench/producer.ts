// A Kafka client alone, without PostgreSQL: the relay's records produced back to back with the relay's
// settings (idempotent, acks=all, one request of at most 1 MB in flight). Prints `warm` after the warm-up,
// then JSON: seconds (measured, all), CPU seconds and peak RSS; or `{"unavailable": why}`. It cycles through
// 1,000 records, and compacts its heap once connected as the relay does, so that its peak RSS is the client's.
//
//   npx tsx bench/producer.ts <kafkajs|platformatic|confluent> <brokers> <topic> <records> <warm-up> <bytes>
import { decodeEnvelope } from '@factlib/emit/envelope'
import type { SinkRecord } from '@factlib/relay'
// The relay's own modules, not its package: with all of it loaded, the kafkajs arm measured other figures
// (3.2-3.8 CPU s per 100k and ~130 MiB, against 2.3-2.4 and 148-161 without), so this process loads no more.
import { factRecord, recordSize } from '../packages/relay/src/pipeline/record.js'
import { ProduceMessages } from '../packages/relay/src/sinks/kafka/messages.js'
import { formatLsn } from '../packages/relay/src/wal/lsn.js'
import { benchEmitter, benchProducer, envelopeContent, factInput, SOURCE } from './facts.js'

const [client = '', brokers = '', topic = '', ...numbers] = process.argv.slice(2)
const [count, warm, bytes] = numbers.map(Number) as [number, number, number]
const clientId = 'factlib-bench-producer'

/**
 * The `n`th fact's Kafka record, made by the relay's own `factRecord` from the WAL message `emit` writes; each
 * fact its own transaction, at a made-up commit position. The value is a Buffer, as decoded from one.
 */
function relayRecord(n: number): KafkaRecord {
  const content = Buffer.from(envelopeContent(emitter, factInput(n, bytes)))
  const origin = { source: SOURCE, lsn: formatLsn(0x1a2b3c4dn + BigInt(n) * 256n) }
  return factRecord(decodeEnvelope(content), origin, topic) as KafkaRecord
}
type KafkaRecord = SinkRecord & { key: string; value: Buffer }
type Send = (records: KafkaRecord[]) => Promise<unknown>

/** A client that is not a dependency of the project: loaded if someone installed it. */
class Unavailable extends Error {}
const load = <T>(name: string) =>
  import(name).catch(() => {
    throw new Unavailable(`${name} is not installed`)
  }) as Promise<T>

/** Each client connected with the relay's settings. */
const CLIENTS: Record<string, () => Promise<{ send: Send; close(): Promise<unknown> }>> = {
  async kafkajs() {
    const producer = await benchProducer(clientId, brokers)
    await producer.connect()
    const send: Send = (messages) =>
      producer.sendBatch({ acks: -1, timeout: 10_000, topicMessages: [{ topic, messages }] })
    return { send, close: () => producer.disconnect() }
  },
  async platformatic() {
    type Producer = { send(options: { messages: unknown[] }): Promise<unknown>; close(): Promise<void> }
    type Module = {
      Producer: new (options: object) => Producer
      compatibilityPartitioner: ProduceMessages['partitioner']
    }
    const kafka = await load<Module>('@platformatic/kafka')
    const bootstrapBrokers = brokers.split(',')
    const producer = new kafka.Producer({ clientId, bootstrapBrokers, idempotent: true, acks: -1 })
    // Per send, by the relay sink's own code.
    const messages = new ProduceMessages(kafka.compatibilityPartitioner)
    const send: Send = (batch) => producer.send({ messages: messages.of(batch) })
    return { send, close: () => producer.close() }
  },
  async confluent() {
    type Producer = Record<'connect' | 'disconnect', () => Promise<void>> & {
      send(batch: object): Promise<unknown>
    }
    type Module = { KafkaJS: { Kafka: new (config: object) => { producer(config: object): Producer } } }
    const { KafkaJS } = await load<Module>('@confluentinc/kafka-javascript')
    const producer = new KafkaJS.Kafka({ kafkaJS: { clientId, brokers: brokers.split(',') } }).producer({
      kafkaJS: { idempotent: true, acks: -1, maxInFlightRequests: 1 },
    })
    await producer.connect()
    // It rewrites the messages it is given (headers, partition): each send gets copies of the shared records.
    const send: Send = (batch) => producer.send({ topic, messages: batch.map((record) => ({ ...record })) })
    return { send, close: () => producer.disconnect() }
  },
}

const open = CLIENTS[client]
if (!open) throw new Error(`no client ${client}; see the head of bench/producer.ts`)
const emitter = benchEmitter()
const records = Array.from({ length: 1_000 }, (_, n) => relayRecord(n))
const producer = await open().catch((error: unknown) => {
  if (!(error instanceof Unavailable)) throw error
  process.stdout.write(`${JSON.stringify({ unavailable: error.message })}\n`)
  process.exit(0)
})
const { gc } = globalThis as { gc?: (options: object) => void }
gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }) // --expose-gc: as the relay, before streaming

/** Requests of at most 1 MB (counting bytes as the relay does), one at a time, as the relay sends them. */
async function produce(from: number, to: number): Promise<void> {
  let [batch, size] = [[] as typeof records, 0]
  for (let n = from; n < to; n++) {
    const record = records[n % records.length] as KafkaRecord
    const bytes = recordSize(record)
    if (batch.length > 0 && size + bytes > 1_000_000) {
      await producer.send(batch)
      ;[batch, size] = [[], 0]
    }
    batch.push(record)
    size += bytes
  }
  if (batch.length) await producer.send(batch)
}

const [first, cpu] = [performance.now(), process.cpuUsage()]
await produce(0, warm)
process.stdout.write('warm\n')
const started = performance.now()
await produce(warm, warm + count)
const ended = performance.now()
const used = process.cpuUsage(cpu)
const result = {
  seconds: (ended - started) / 1000,
  allSeconds: (ended - first) / 1000,
  cpuSeconds: (used.user + used.system) / 1e6,
  peakRss: process.resourceUsage().maxRSS * 1024,
}
process.stdout.write(`${JSON.stringify(result)}\n`)
await producer.close()
process.exit(0)
