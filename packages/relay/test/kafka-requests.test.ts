import { describe, expect, test } from 'vitest'
import { recordSize } from '../src/pipeline/record.js'
import { MIN_REQUEST_BYTES, planRequests, splitRequest, topicMessages } from '../src/sinks/kafka/requests.js'
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

  test("kafkajs' topicMessages: one entry per topic, records in order, the value's bytes without a copy", () => {
    const buffer = new Uint8Array([0, 1, 2, 3, 4])
    const batch = [fact('a', 'k1', 'one'), fact('b', 'k2', buffer.subarray(1, 4)), fact('a', 'k3', 'two')]
    const messages = topicMessages(batch)
    expect(messages.map(({ topic, messages }) => [topic, messages.map((message) => message.key)])).toEqual([
      ['a', ['k1', 'k3']],
      ['b', ['k2']],
    ])
    const value = messages[1]?.messages[0]?.value as Buffer
    expect([...value]).toEqual([1, 2, 3])
    expect(value.buffer).toBe(buffer.buffer)
    expect(messages[0]?.messages[0]?.headers).toBe(batch[0]?.headers)
  })
})
