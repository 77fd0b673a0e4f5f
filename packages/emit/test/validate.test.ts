import { describe, expect, test } from 'vitest'
import { createEmitter, type FactInput, FactlibError, ValidationError } from '../src/index.js'
import { order, recordingTx } from './helpers.js'

const base = () => ({ aggregateType: 'order', aggregateId: '42', type: 'order.placed', data: { total: 9 } })

/** Emit `fact` through a recording tx: the error must be a ValidationError and no SQL may have been sent. */
async function rejection(fact: unknown, options: { maxBytes?: number } = {}) {
  const tx = recordingTx()
  const error = await createEmitter({ source: 'orders', ...options })
    .emit(tx, fact as FactInput)
    .catch((error: unknown) => error)
  expect(tx.queries).toEqual([])
  expect(error).toBeInstanceOf(ValidationError)
  expect(error).toBeInstanceOf(FactlibError)
  return error as ValidationError
}

const cyclic: Record<string, unknown> = { a: 1 }
cyclic.self = cyclic

// Each row is its own test: [what, the fact, field, rule, code].
const invalid: Array<[string, () => unknown, string, string, string?]> = [
  ['a fact that is not an object', () => 'order.placed', '', 'object'],
  ['missing aggregateType', () => ({ ...base(), aggregateType: undefined }), 'aggregateType', 'required'],
  ['empty aggregateType', () => ({ ...base(), aggregateType: '' }), 'aggregateType', 'required'],
  ['a non-string aggregateType', () => ({ ...base(), aggregateType: 7 }), 'aggregateType', 'string'],
  [
    'aggregateType with a space',
    () => ({ ...base(), aggregateType: 'big order' }),
    'aggregateType',
    'pattern',
  ],
  [
    'aggregateType with a slash',
    () => ({ ...base(), aggregateType: 'order/v2' }),
    'aggregateType',
    'pattern',
  ],
  [
    'aggregateType with a non-ASCII letter',
    () => ({ ...base(), aggregateType: 'ordér' }),
    'aggregateType',
    'pattern',
  ],
  [
    'aggregateType of 101 characters',
    () => ({ ...base(), aggregateType: 'a'.repeat(101) }),
    'aggregateType',
    'pattern',
  ],
  ['missing aggregateId', () => ({ ...base(), aggregateId: undefined }), 'aggregateId', 'required'],
  ['empty aggregateId', () => ({ ...base(), aggregateId: '' }), 'aggregateId', 'required'],
  ['a numeric aggregateId', () => ({ ...base(), aggregateId: 42 }), 'aggregateId', 'string'],
  [
    'aggregateId of 1025 characters',
    () => ({ ...base(), aggregateId: 'x'.repeat(1025) }),
    'aggregateId',
    'pattern',
  ],
  ['missing type', () => ({ ...base(), type: undefined }), 'type', 'required'],
  ['null type', () => ({ ...base(), type: null }), 'type', 'required'],
  ['type of 257 characters', () => ({ ...base(), type: 't'.repeat(257) }), 'type', 'pattern'],
  ['both data and payload', () => ({ ...base(), payload: 'x' }), 'data', 'exclusive'],
  ['neither data nor payload', () => ({ ...base(), data: undefined }), 'data', 'required'],
  ['data with a BigInt', () => ({ ...base(), data: { total: 9n } }), 'data', 'json'],
  ['data with a cycle', () => ({ ...base(), data: cyclic }), 'data', 'json'],
  ['data that is a function', () => ({ ...base(), data: () => 1 }), 'data', 'json'],
  ['a payload that is a number', () => ({ ...base(), data: undefined, payload: 7 }), 'payload', 'type'],
  [
    'a payload that is an ArrayBuffer',
    () => ({ ...base(), data: undefined, payload: new ArrayBuffer(2) }),
    'payload',
    'type',
  ],
  [
    'a payload string with a lone surrogate',
    () => ({ ...base(), data: undefined, payload: 'a\ud800b' }),
    'payload',
    'type',
  ],
  [
    'contentType other than JSON with data',
    () => ({ ...base(), contentType: 'text/plain' }),
    'contentType',
    'json',
  ],
  [
    'a contentType that is not a media type',
    () => ({ ...base(), data: undefined, payload: 'x', contentType: 'plain text' }),
    'contentType',
    'pattern',
  ],
  ['an id that is not a UUID', () => ({ ...base(), id: 'order-42' }), 'id', 'pattern'],
  ['a time with an offset', () => ({ ...base(), time: '2024-05-06T09:08:09.123+02:00' }), 'time', 'rfc3339'],
  ['a time without milliseconds', () => ({ ...base(), time: '2024-05-06T07:08:09Z' }), 'time', 'rfc3339'],
  ['a time that does not exist', () => ({ ...base(), time: '2024-02-30T07:08:09.123Z' }), 'time', 'rfc3339'],
  ['an invalid Date', () => ({ ...base(), time: new Date('nope') }), 'time', 'rfc3339'],
  ['metadata that is an array', () => ({ ...base(), metadata: ['a'] }), 'metadata', 'object'],
  [
    'a metadata key with a space',
    () => ({ ...base(), metadata: { 'my key': 'v' } }),
    'metadata.my key',
    'pattern',
  ],
  [
    'a metadata key of 65 characters',
    () => ({ ...base(), metadata: { ['k'.repeat(65)]: 'v' } }),
    `metadata.${'k'.repeat(65)}`,
    'pattern',
  ],
  [
    'a metadata value that is not a string',
    () => ({ ...base(), metadata: { n: 1 } }),
    'metadata.n',
    'string',
  ],
  [
    'reserved metadata key ce_id',
    () => ({ ...base(), metadata: { ce_id: 'x' } }),
    'metadata.ce_id',
    'reserved',
  ],
  [
    'reserved metadata key CE_TYPE',
    () => ({ ...base(), metadata: { CE_TYPE: 'x' } }),
    'metadata.CE_TYPE',
    'reserved',
  ],
  [
    'reserved metadata key factlib-lsn',
    () => ({ ...base(), metadata: { 'factlib-lsn': 'x' } }),
    'metadata.factlib-lsn',
    'reserved',
  ],
  [
    'reserved metadata key content-type',
    () => ({ ...base(), metadata: { 'Content-Type': 'x' } }),
    'metadata.Content-Type',
    'reserved',
  ],
  [
    'reserved metadata key traceparent',
    () => ({ ...base(), metadata: { traceparent: 'x' } }),
    'metadata.traceparent',
    'reserved',
  ],
  [
    'reserved metadata key tracestate',
    () => ({ ...base(), metadata: { tracestate: 'x' } }),
    'metadata.tracestate',
    'reserved',
  ],
  ['a malformed traceparent', () => ({ ...base(), traceparent: '00-abc-def-01' }), 'traceparent', 'pattern'],
  ['a tracestate without traceparent', () => ({ ...base(), tracestate: 'a=b' }), 'tracestate', 'traceparent'],
  [
    'a fact over maxBytes (data)',
    () => ({ ...base(), data: 'x'.repeat(2000) }),
    'data',
    'maxBytes',
    'FACT_TOO_LARGE',
  ],
  [
    'a fact over maxBytes (payload)',
    () => ({ ...base(), data: undefined, payload: new Uint8Array(2000) }),
    'payload',
    'maxBytes',
    'FACT_TOO_LARGE',
  ],
]

describe('invalid facts are rejected before any SQL, naming the field and the rule', () => {
  test.each(invalid)('%s', async (_, fact, field, rule, code = 'FACT_INVALID') => {
    const error = await rejection(fact(), { maxBytes: 1000 })
    expect(error).toMatchObject({ code, field, rule, index: undefined })
    expect(error.message).toContain(`invalid fact ${field}`.trim())
    expect(error.message).toContain(rule)
  })
})

describe('a batch', () => {
  test('with one invalid fact sends nothing, and the error gives its index', async () => {
    const tx = recordingTx()
    const error = await createEmitter({ source: 'orders' })
      .emit(tx, [order('1'), order('2'), { ...order('3'), aggregateType: 'no spaces' }])
      .catch((error: unknown) => error)
    expect(tx.queries).toEqual([])
    expect(error).toMatchObject({ code: 'FACT_INVALID', field: 'aggregateType', rule: 'pattern', index: 2 })
    expect((error as Error).message).toMatch(/^invalid facts\[2\] aggregateType: pattern/)
  })
})

describe('valid edge cases pass', () => {
  test.each<[string, FactInput]>([
    ['aggregateType of 100 allowed characters', { ...base(), aggregateType: `aZ09._-${'a'.repeat(93)}` }],
    ['aggregateId of 1024 characters', { ...base(), aggregateId: 'x'.repeat(1024) }],
    ['type of 256 characters', { ...base(), type: 't'.repeat(256) }],
    ['data that is null', { ...base(), data: null }],
    ['data with toJSON', { ...base(), data: new Date(0) }],
    ['an empty string payload', { ...base(), data: undefined, payload: '' }],
    ['an explicit application/json with data', { ...base(), contentType: 'application/json' }],
    ['an uppercase UUID id', { ...base(), id: '01890A5D-AC96-774B-BCCE-B302099A8057' }],
    ['metadata with an empty value', { ...base(), metadata: { note: '' } }],
    ['metadata key cE-id (only ce_ is reserved)', { ...base(), metadata: { 'ce-id': 'x' } }],
  ])('%s', async (_, fact) => {
    const tx = recordingTx()
    await createEmitter({ source: 'orders' }).emit(tx, fact)
    expect(tx.queries).toHaveLength(1)
  })
})

describe('options', () => {
  test.each([
    ['a missing source', {}, 'source', 'required'],
    ['a source with a space', { source: 'my service' }, 'source', 'pattern'],
    ['a source of 101 characters', { source: 's'.repeat(101) }, 'source', 'pattern'],
    ['maxBytes of 0', { source: 'orders', maxBytes: 0 }, 'maxBytes', 'integer'],
    ['a fractional maxBytes', { source: 'orders', maxBytes: 1.5 }, 'maxBytes', 'integer'],
  ])('%s is rejected when the emitter is created', (_, options, field, rule) => {
    expect(() => createEmitter(options as never)).toThrow(
      expect.objectContaining({ code: 'OPTIONS_INVALID', field, rule }),
    )
  })

  test('an id hook that returns a non-UUID is rejected before any SQL', async () => {
    const tx = recordingTx()
    const facts = createEmitter({ source: 'orders', id: () => 'not-a-uuid' })
    await expect(facts.emit(tx, order('1'))).rejects.toMatchObject({ field: 'id', rule: 'pattern' })
    expect(tx.queries).toEqual([])
  })

  test('a traceContext hook that returns a malformed traceparent is rejected before any SQL', async () => {
    const tx = recordingTx()
    const facts = createEmitter({ source: 'orders', traceContext: () => ({ traceparent: 'garbage' }) })
    await expect(facts.emit(tx, order('1'))).rejects.toMatchObject({ field: 'traceparent', rule: 'pattern' })
    expect(tx.queries).toEqual([])
  })
})
