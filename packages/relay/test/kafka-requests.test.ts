import { compatibilityPartitioner } from '@platformatic/kafka'
import { describe, expect, test } from 'vitest'
import { recordSize } from '../src/pipeline/record.js'
import { ProduceMessages } from '../src/sinks/kafka/messages.js'
import { MIN_REQUEST_BYTES, planRequests, splitRequest } from '../src/sinks/kafka/requests.js'
import { fact } from './support/sink.js'

const records = (count: number, bytes: number) =>
  Array.from({ length: count }, (_, index) =>
    fact(index % 2 ? 'shop.b' : 'shop.a', `k${index}`, 'x'.repeat(bytes)),
  )

describe('planning produce requests', () => {
  test('records keep their order, cut where the next one would pass the byte limit', () => {
    const batch = records(5, 100)
    const size = recordSize(batch[0] as (typeof batch)[0])
    const requests = planRequests(batch, size * 2)
    expect(requests.map((request) => request.length)).toEqual([2, 2, 1])
    expect(requests.flat()).toEqual(batch)
    expect(planRequests(batch, size * 100)).toEqual([batch])
    expect(planRequests([], 1_000)).toEqual([])
  })

  test('a record over the limit is a request of its own', () => {
    const [small, large, other] = [
      fact('t', 'a', 'x'),
      fact('t', 'b', 'x'.repeat(5_000)),
      fact('t', 'c', 'y'),
    ]
    expect(planRequests([small, large, other], 1_000)).toEqual([[small], [large], [other]])
  })

  test('a request the broker found too large splits in ordered halves and halves the planned size', () => {
    const batch = records(5, 20_000)
    const bytes = batch.reduce((sum, record) => sum + recordSize(record), 0)
    const { halves, requestBytes } = splitRequest(batch, 1_000_000)
    expect(halves).toEqual([batch.slice(0, 3), batch.slice(3)])
    expect(requestBytes).toBe(Math.floor(bytes / 2))
    expect(splitRequest(batch, 30_000).requestBytes).toBe(30_000)
    expect(splitRequest(records(2, 10), 1_000_000).requestBytes).toBe(MIN_REQUEST_BYTES)
  })

  test("the client's messages: records in order, the value's bytes without a copy, every header as Buffers", () => {
    const buffer = new Uint8Array([0, 1, 2, 3, 4])
    const batch = [fact('a', 'k1', 'one'), fact('b', 'k2', buffer.subarray(1, 4)), fact('a', 'k3', 'two')]
    const messages = new ProduceMessages(compatibilityPartitioner).of(batch)
    expect(messages.map(({ topic, key }) => [topic, key?.toString()])).toEqual([
      ['a', 'k1'],
      ['b', 'k2'],
      ['a', 'k3'],
    ])
    const value = messages[1]?.value as Buffer
    expect([...value]).toEqual([1, 2, 3])
    expect(value.buffer).toBe(buffer.buffer)
    const text = (headers: unknown) =>
      Object.fromEntries(
        [...(headers as Map<Buffer, Buffer>)].map(([name, value]) => [`${name}`, `${value}`]),
      )
    expect(text(messages[0]?.headers)).toEqual(batch[0]?.headers)
    // A dead letter without a key has none on the wire.
    expect(
      new ProduceMessages(compatibilityPartitioner).message({ ...fact('dlq', 'k', 'x'), key: null }).key,
    ).toBeUndefined()
    // Given the partition count, the partition the Java client picks (kafka-clients 3.9.2, 6 partitions).
    const partitioned = new ProduceMessages(compatibilityPartitioner).of(
      [fact('t', 'order-1', 'x'), fact('t', 'aggregate-α', 'y'), { ...fact('t', 'k', 'z'), key: null }],
      () => 6,
    )
    expect(partitioned.map((message) => message.partition)).toEqual([4, 1, 0])
    expect(messages[0]?.partition).toBeUndefined()
  })

  test('header names and the values that repeat from fact to fact are encoded once and shared', () => {
    const messages = new ProduceMessages(compatibilityPartitioner)
    const [first, second] = messages.of([fact('a', 'k1', 'one'), fact('a', 'k2', 'two')])
    const entries = (message: typeof first) => [...((message?.headers ?? new Map()) as Map<Buffer, Buffer>)]
    const [a, b] = [entries(first), entries(second)]
    expect(a.map(([name]) => name)).toEqual(b.map(([name]) => name))
    for (const [index, [name, value]] of a.entries()) {
      const shared = value === b[index]?.[1]
      // ce_id differs per fact; the rest of the test facts' headers repeat (factlib-lsn: one transaction).
      expect(shared, `${name}`).toBe(`${name}` !== 'ce_id')
    }
  })
})
