import { createEmitter, type Emitter, type Fact, type FactInput } from '@factlib/emit'
import { encodeHeader } from '@factlib/emit/envelope'
import type { Producer } from 'kafkajs'

/** The source every benchmark emits under; with aggregate type `order` its facts go to `bench.order`. */
export const SOURCE = 'bench'
export const TOPIC = `${SOURCE}.order`
/** Facts spread over this many aggregates (Kafka keys), so every partition gets its share. */
const AGGREGATES = 1000

export const benchEmitter = (): Emitter => createEmitter({ source: SOURCE })

/** The `n`th fact of a benchmark, its payload a JSON object exactly `bytes` long (at least 16). */
export function factInput(n: number, bytes: number): FactInput {
  const base = JSON.stringify({ n, pad: '' }).length
  return {
    aggregateType: 'order',
    aggregateId: `order-${n % AGGREGATES}`,
    type: 'order.placed',
    data: { n, pad: 'x'.repeat(Math.max(0, bytes - base)) },
  }
}

/** The WAL message content `emit` would write for a fact (envelope v1, the text form). */
export function envelopeContent(emitter: Emitter, input: FactInput): string {
  const fact = emitter.prepare(input).facts[0] as Fact
  return `${encodeHeader(fact)}\n${JSON.stringify(fact.data)}`
}

/** kafkajs with the relay's settings; more retries than the relay's client (the relay retries around it). */
export async function benchProducer(clientId: string, brokers: string): Promise<Producer> {
  const { Kafka, logLevel, Partitioners } = await import('kafkajs')
  return new Kafka({
    clientId,
    brokers: brokers.split(','),
    connectionTimeout: 3_000,
    retry: { retries: 0 },
    logLevel: logLevel.WARN,
  }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
}
