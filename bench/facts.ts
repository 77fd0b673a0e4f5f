import { createEmitter, type Emitter, type Fact, type FactInput } from '@factlib/emit'
import { encodeHeader } from '@factlib/emit/envelope'
import { Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from 'kafkajs'

/** The source every benchmark emits under; with aggregate type `order` its facts go to topic `bench.order`. */
export const SOURCE = 'bench'
export const AGGREGATE_TYPE = 'order'
export const TOPIC = `${SOURCE}.${AGGREGATE_TYPE}`
/** Facts spread over this many aggregates (Kafka keys), so every partition gets its share. */
const AGGREGATES = 1000

export function benchEmitter(): Emitter {
  return createEmitter({ source: SOURCE })
}

/** A JSON object whose encoding is exactly `bytes` long (at least 16): the Kafka record's value. */
export function paddedData(n: number, bytes: number): { n: number; pad: string } {
  const base = JSON.stringify({ n, pad: '' }).length
  return { n, pad: 'x'.repeat(Math.max(0, bytes - base)) }
}

/** The `n`th fact of a benchmark, with a `bytes`-long payload. */
export function factInput(n: number, bytes: number): FactInput {
  return {
    aggregateType: AGGREGATE_TYPE,
    aggregateId: `order-${n % AGGREGATES}`,
    type: 'order.placed',
    data: paddedData(n, bytes),
  }
}

/** The WAL message content `emit` would write for a fact (envelope v1, the text form). */
export function envelopeContent(emitter: Emitter, input: FactInput): { fact: Fact; content: string } {
  const fact = emitter.prepare(input).facts[0] as Fact
  return { fact, content: `${encodeHeader(fact)}\n${JSON.stringify(fact.data)}` }
}

/** A Kafka record shaped exactly as the relay makes it from a fact (CloudEvents binary mode headers). */
export interface BenchRecord {
  topic: string
  key: string
  value: Buffer
  headers: Record<string, string>
}

export function kafkaRecord(fact: Fact, topic: string, lsn = '0/1A2B3C4D'): BenchRecord {
  return {
    topic,
    key: fact.aggregateId,
    value: Buffer.from(JSON.stringify(fact.data)),
    headers: {
      ce_specversion: '1.0',
      ce_id: fact.id,
      ce_source: fact.source,
      ce_type: fact.type,
      ce_time: fact.time,
      ce_aggregatetype: fact.aggregateType,
      ce_aggregateid: fact.aggregateId,
      'content-type': fact.contentType,
      'factlib-lsn': lsn,
    },
  }
}

/** Bytes a record holds, counted as the relay counts them when it sizes requests. */
export function recordBytes(record: BenchRecord): number {
  let size = record.value.byteLength + record.key.length + record.topic.length
  for (const name in record.headers) size += name.length + (record.headers[name]?.length ?? 0)
  return size
}

/**
 * A kafkajs producer with the relay's settings (packages/relay/src/kafka-sink.ts: idempotent, acks=all,
 * one request in flight, no topic auto-creation, the default partitioner), so every Kafka-side arm
 * produces as the relay does. More retries than the relay's own, which retries around kafkajs.
 */
export function benchProducer(
  clientId: string,
  brokers: string,
  options: Partial<KafkaConfig> = {},
): Producer {
  return new Kafka({
    clientId,
    brokers: brokers.split(','),
    retry: { retries: 0, initialRetryTime: 100, maxRetryTime: 1_000 },
    logLevel: logLevel.WARN,
    ...options,
  }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
}
