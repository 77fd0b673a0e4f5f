// A Kafka client alone, without PostgreSQL: the relay's own records (1 KB values, ~1,000 keys, the nine
// CloudEvents string headers) produced back to back with the relay's settings (idempotent, acks=all, one
// request of at most 1 MB in flight). Prints `warm` once the warm-up records are acknowledged, then as JSON
// the seconds for the measured records and for all of them, its CPU seconds (user + system, all threads)
// over all of them and its peak RSS; or `{"unavailable": why}` when the client cannot be loaded here.
//
//   npx tsx bench/producer.ts <kafkajs|platformatic|confluent> <brokers> <topic> <records> <warm-up> <bytes>
import type { Fact } from '@factlib/emit'
import {
  type BenchRecord,
  benchEmitter,
  benchProducer,
  factInput,
  kafkaRecord,
  recordBytes,
} from './facts.js'

type Send = (records: BenchRecord[]) => Promise<unknown>
interface Client {
  send: Send
  close(): Promise<unknown>
}

const [client = '', brokers = '', topic = '', ...numbers] = process.argv.slice(2)
const [count, warm, bytes] = numbers.map(Number) as [number, number, number]
const clientId = 'factlib-bench-producer'
const buffers = (headers: Record<string, string>) =>
  new Map(Object.entries(headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]))

/** A client that is not a dependency of the project: loaded if someone installed it. */
async function load<T>(name: string): Promise<T> {
  const specifier: string = name
  return (await import(specifier).catch(() => {
    throw new Unavailable(`${name} is not installed`)
  })) as T
}
class Unavailable extends Error {}

const CLIENTS: Record<string, () => Promise<Client>> = {
  async kafkajs() {
    const producer = benchProducer(clientId, brokers)
    await producer.connect()
    const send: Send = (messages) =>
      producer.sendBatch({ acks: -1, timeout: 10_000, topicMessages: [{ topic, messages }] })
    return { send, close: () => producer.disconnect() }
  },
  async platformatic() {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
    if (major < 22 || (major === 22 && minor < 22))
      throw new Unavailable(`needs Node ≥ 22.22 (this is ${process.version})`)
    type Producer = { send(options: { messages: unknown[] }): Promise<unknown>; close(): Promise<void> }
    const kafka = await load<{ Producer: new (options: object) => Producer }>('@platformatic/kafka')
    const producer = new kafka.Producer({
      clientId,
      bootstrapBrokers: brokers.split(','),
      idempotent: true,
      acks: -1,
    })
    const send: Send = (records) =>
      producer.send({
        messages: records.map(({ key, value, headers }) => ({
          topic,
          key: Buffer.from(key),
          value,
          headers: buffers(headers),
        })),
      })
    return { send, close: () => producer.close() }
  },
  async confluent() {
    type Producer = {
      connect(): Promise<void>
      send(batch: object): Promise<unknown>
      disconnect(): Promise<void>
    }
    const { KafkaJS } = await load<{
      KafkaJS: { Kafka: new (config: object) => { producer(config: object): Producer } }
    }>('@confluentinc/kafka-javascript')
    const producer = new KafkaJS.Kafka({ kafkaJS: { clientId, brokers: brokers.split(',') } }).producer({
      kafkaJS: { idempotent: true, acks: -1, maxInFlightRequests: 1 },
    })
    await producer.connect()
    return { send: (messages) => producer.send({ topic, messages }), close: () => producer.disconnect() }
  },
}

const open = CLIENTS[client]
if (!open || !topic || !(count > 0)) {
  process.stderr.write(
    'usage: producer.ts <kafkajs|platformatic|confluent> <brokers> <topic> <records> <warm-up> <bytes>\n',
  )
  process.exit(2)
}
const emitter = benchEmitter()
const records = Array.from({ length: warm + count }, (_, n) =>
  kafkaRecord(emitter.prepare(factInput(n, bytes)).facts[0] as Fact),
)
let producer: Client
try {
  producer = await open()
} catch (error) {
  if (!(error instanceof Unavailable)) throw error
  process.stdout.write(`${JSON.stringify({ unavailable: error.message })}\n`)
  process.exit(0)
}

/** Requests of at most 1 MB, one at a time, as the relay sends them. */
async function produce(from: number, to: number): Promise<void> {
  let batch: BenchRecord[] = []
  let size = 0
  for (const record of records.slice(from, to)) {
    const bytes = recordBytes(record, topic)
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
process.stdout.write(
  `${JSON.stringify({
    seconds: (ended - started) / 1000,
    allSeconds: (ended - first) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakRss: process.resourceUsage().maxRSS * 1024,
  })}\n`,
)
await producer.close()
process.exit(0)
