import { describe, expect, test } from 'vitest'
import { sinkDeadLetter } from '../src/pipeline/dead-letter.js'
import type { SinkRecord } from '../src/sinks/sink.js'

const fact: SinkRecord = {
  topic: 'shop.order',
  key: 'o-1',
  value: new TextEncoder().encode('{"total":3}'),
  headers: {
    ce_id: 'id-1',
    ce_source: 'shop',
    ce_type: 'order.placed',
    'content-type': 'application/json',
    'factlib-lsn': '16/B374D848',
    tenant: 'acme',
  },
}

describe('sinkDeadLetter', () => {
  test('too large: an empty value, the fact’s headers, and where it came from', () => {
    const letter = sinkDeadLetter(fact, 'factlib.dlq', 'too_large', 'the broker refused it')
    expect(letter).toEqual({
      topic: 'factlib.dlq',
      key: 'o-1',
      value: new Uint8Array(0),
      headers: {
        ce_id: 'id-1',
        ce_source: 'shop',
        ce_type: 'order.placed',
        'content-type': 'application/json',
        tenant: 'acme',
        'factlib-error': 'too_large: the broker refused it',
        'factlib-reason': 'too_large',
        'factlib-lsn': '16/B374D848',
        'factlib-source': 'shop',
        'factlib-topic': 'shop.order',
        'factlib-value-bytes': '11',
      },
    })
  })

  test('invalid topic keeps the payload; minimal keeps only ce_id besides the factlib headers', () => {
    expect(sinkDeadLetter(fact, 'dlq', 'invalid_topic', 'bad name').value).toBe(fact.value)
    const minimal = sinkDeadLetter(fact, 'dlq', 'too_large', 'x'.repeat(5_000), true)
    expect(Object.keys(minimal.headers).sort()).toEqual([
      'ce_id',
      'factlib-error',
      'factlib-lsn',
      'factlib-reason',
      'factlib-source',
      'factlib-topic',
      'factlib-value-bytes',
    ])
    expect(minimal.headers['factlib-error']?.length).toBeLessThan(1_100)
  })

  test('a dead letter that is itself too large says what it was', () => {
    const poison: SinkRecord = {
      topic: 'dlq',
      key: null,
      value: new Uint8Array(10),
      headers: {
        'factlib-error': 'invalid_envelope: no newline ends the header',
        'factlib-reason': 'invalid_envelope',
        'factlib-lsn': '0/10',
        'factlib-source': 'billing',
      },
    }
    const letter = sinkDeadLetter(poison, 'dlq', 'too_large', 'the broker refused it')
    expect(letter.headers).toMatchObject({
      'factlib-reason': 'too_large',
      'factlib-source': 'billing',
      'factlib-lsn': '0/10',
      'factlib-error':
        'too_large: the broker refused it (it was a dead letter already: invalid_envelope: no newline ends the header)',
    })
    expect(letter.value.byteLength).toBe(0)
  })
})
