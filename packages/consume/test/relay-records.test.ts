import type { MSKEvent, SelfManagedKafkaEvent } from 'aws-lambda'
import { describe, expect, expectTypeOf, test } from 'vitest'
import { kafkaUnavailable } from '../../../test/harness/index.js'
import { decode, type Fact } from '../src/index.js'
import { kafkaHandler, type LambdaKafkaEvent, type LambdaKafkaRecord } from '../src/lambda.js'
import {
  mskEvent,
  type RawRecord,
  type Relayed,
  readPlatformatic,
  readRaw,
  relayFacts,
  selfManagedEvent,
} from './support/relay-facts.js'

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const binary = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x80, 10, 13])

/** Every field of a decoded fact against the fact as emitted and the record it came from. */
function expectFact(fact: Fact, relayed: Relayed, at: { topic: string; partition: number; offset: string }) {
  const emitted = relayed.emitted.find((each) => each.id === fact.id)
  expect(emitted, `fact ${fact.id} was emitted`).toBeDefined()
  if (!emitted) return
  expect({ ...fact, payload: [...fact.payload], lsn: undefined }).toEqual({
    id: emitted.id,
    source: relayed.source,
    type: emitted.type,
    aggregateType: emitted.aggregateType,
    aggregateId: emitted.aggregateId,
    time: emitted.time,
    contentType: emitted.contentType,
    metadata: emitted.metadata ?? {},
    ...(emitted.traceparent !== undefined && { traceparent: emitted.traceparent }),
    data: emitted.data,
    payload: [
      ...(emitted.payload === undefined
        ? Buffer.from(JSON.stringify(emitted.data))
        : typeof emitted.payload === 'string'
          ? Buffer.from(emitted.payload)
          : emitted.payload),
    ],
    lsn: undefined,
    ...at,
  })
  expect(fact.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
}

describe.skipIf(kafkaUnavailable())('records the real relay produced', () => {
  test('decode: kafkajs payloads, @platformatic/kafka messages, MSK and self-managed Lambda events give every field', async () => {
    const relayed = await relayFacts([
      {
        aggregateId: 'a1',
        type: 'item.created',
        data: { name: 'chair', price: 12.5, tags: ['ü', '€'] },
        metadata: { tenant: 'acme', 'request.id': 'r-1' },
        traceparent,
      },
      { aggregateId: 'a2', type: 'item.photo', payload: binary, contentType: 'image/png' },
      { aggregateId: 'a1', type: 'item.renamed', data: 'stool' },
      { aggregateId: 'a3', type: 'item.note', payload: 'plain text', contentType: 'text/plain' },
    ])
    const raw = await readRaw(relayed.topic)
    expect(raw).toHaveLength(4)
    const at = ({ topic, partition, message }: RawRecord) => ({ topic, partition, offset: message.offset })
    const kafkajs = raw.map((record) => {
      const fact = decode(record)
      expectFact(fact, relayed, at(record))
      return fact
    })
    // The aggregate's facts keep their emit order in one partition.
    const a1 = kafkajs.filter((fact) => fact.aggregateId === 'a1')
    expect(a1.map((fact) => fact.type)).toEqual(['item.created', 'item.renamed'])
    expect(new Set(a1.map((fact) => fact.partition)).size).toBe(1)

    // The payload is a Buffer or a Uint8Array as the record's value was: compare its bytes.
    const bytes = (fact: Fact) => ({ ...fact, payload: [...fact.payload] })
    const platformatic = await readPlatformatic(relayed.topic, 4)
    expect(platformatic.map((message) => bytes(decode(message)))).toEqual(kafkajs.map(bytes))

    for (const event of [mskEvent(raw), selfManagedEvent(raw)]) {
      const lambda = Object.values(event.records)
        .flat()
        .map((record) => decode(record))
        .sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
      expect(lambda.map(bytes)).toEqual(kafkajs.map(bytes))
    }
  })

  test('kafkaHandler takes MSKEvent and SelfManagedKafkaEvent of @types/aws-lambda', async () => {
    expectTypeOf<MSKEvent>().toExtend<LambdaKafkaEvent>()
    expectTypeOf<SelfManagedKafkaEvent>().toExtend<LambdaKafkaEvent>()
    expectTypeOf<MSKEvent['records'][string][number]>().toExtend<LambdaKafkaRecord>()
    const relayed = await relayFacts([{ aggregateId: 'x', type: 'item.created', data: 1 }])
    const raw = await readRaw(relayed.topic)
    const seen: string[] = []
    const handler = kafkaHandler((fact) => {
      seen.push(fact.id)
    })
    const msk: MSKEvent = mskEvent(raw)
    const selfManaged: SelfManagedKafkaEvent = selfManagedEvent(raw)
    expect(await handler(msk)).toEqual({ batchItemFailures: [] })
    expect(await handler(selfManaged)).toEqual({ batchItemFailures: [] })
    expect(seen).toEqual([relayed.emitted[0]?.id, relayed.emitted[0]?.id])
  })
})
