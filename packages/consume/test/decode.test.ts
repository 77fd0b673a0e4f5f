import { describe, expect, test } from 'vitest'
import { decode, FactlibError } from '../src/index.js'

// Pure-logic checks of the header and value shapes; records the real relay produced are decoded in
// relay-records.test.ts.
const headers = {
  ce_specversion: '1.0',
  ce_id: '0193a7c0-0000-7000-8000-000000000001',
  ce_source: 'orders',
  ce_type: 'order.placed',
  ce_time: '2026-12-06T12:00:00.000Z',
  ce_aggregatetype: 'order',
  ce_aggregateid: '42',
  'content-type': 'application/json',
  'factlib-lsn': '0/16B3748',
  tenant: 'acme',
}
const value = JSON.stringify({ total: 9 })
const bytes = (text: string) => Buffer.from(text)

describe('decode', () => {
  test('a kafkajs eachMessage payload, a platformatic message and a Lambda record give the same fact', () => {
    const kafkajs = decode({
      topic: 'orders.order',
      partition: 0,
      message: {
        offset: '7',
        key: bytes('42'),
        value: bytes(value),
        headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, bytes(v)])),
      },
    })
    const platformatic = decode({
      topic: 'orders.order',
      partition: 0,
      offset: 7n,
      key: bytes('42'),
      value: bytes(value),
      headers: new Map(Object.entries(headers).map(([k, v]) => [bytes(k), bytes(v)])),
    })
    const lambda = decode({
      topic: 'orders.order',
      partition: 0,
      offset: 7,
      key: Buffer.from('42').toString('base64'),
      value: Buffer.from(value).toString('base64'),
      headers: Object.entries(headers).map(([k, v]) => ({ [k]: [...Buffer.from(v)] })),
    })
    for (const fact of [kafkajs, platformatic, lambda]) {
      expect({ ...fact, payload: Buffer.from(fact.payload).toString() }).toEqual({
        id: headers.ce_id,
        source: 'orders',
        type: 'order.placed',
        aggregateType: 'order',
        aggregateId: '42',
        time: headers.ce_time,
        contentType: 'application/json',
        metadata: { tenant: 'acme' },
        data: { total: 9 },
        payload: value,
        lsn: '0/16B3748',
        topic: 'orders.order',
        partition: 0,
        offset: '7',
      })
    }
  })

  test('a record without ce_ headers is NOT_A_FACT; a JSON fact whose payload is not JSON is FACT_DATA_INVALID', () => {
    const record = { topic: 't', partition: 1, message: { offset: '3', value: bytes('x'), headers: {} } }
    expect(() => decode(record)).toThrow(expect.objectContaining({ code: 'NOT_A_FACT' }))
    expect(() => decode(record)).toThrow(FactlibError)
    const broken = { ...record, message: { ...record.message, headers } }
    expect(() => decode(broken)).toThrow(expect.objectContaining({ code: 'FACT_DATA_INVALID' }))
  })

  test('a header without a value is present and empty in every shape; Lambda bytes may come signed', () => {
    const base = { ...headers, 'content-type': 'Application/JSON ; charset=utf-8' }
    const kafkajs = decode({
      topic: 't',
      partition: 0,
      message: { offset: '1', value: bytes(value), headers: { ...base, empty: null, label: 'é' } },
    })
    const lambda = decode({
      topic: 't',
      partition: 0,
      offset: 1,
      value: Buffer.from(value).toString('base64'),
      headers: [
        ...Object.entries(base).map(([k, v]) => ({ [k]: [...Buffer.from(v)] })),
        { empty: [] },
        // Java's bytes are signed: é is [-61, -87] there.
        { label: [-61, -87] },
      ],
    })
    for (const fact of [kafkajs, lambda]) {
      expect(fact.metadata).toEqual({ tenant: 'acme', empty: '', label: 'é' })
      // Media types are case-insensitive and may carry spaces before their parameters.
      expect(fact.data).toEqual({ total: 9 })
    }
  })
})
