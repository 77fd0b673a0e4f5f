import { describe, expect, test } from 'vitest'
import {
  decodeEnvelope,
  ENVELOPE_VERSION,
  type EnvelopeHeader,
  encodeEnvelope,
  encodeHeader,
} from '../src/envelope.js'
import { FactlibError } from '../src/index.js'

const header: EnvelopeHeader = {
  v: 1,
  id: '01890a5d-ac96-774b-bcce-b302099a8057',
  type: 'order.placed',
  aggregateType: 'order',
  aggregateId: '42\nwith newline',
  time: '2024-05-06T07:08:09.123Z',
  contentType: 'application/octet-stream',
}
const bytes = (text: string) => new TextEncoder().encode(text)
const withHeader = (fields: unknown, payload = 'p') => bytes(`${JSON.stringify(fields)}\n${payload}`)

describe('round trip', () => {
  test.each<[string, EnvelopeHeader, Uint8Array]>([
    ['the required fields and binary payload with newlines', header, new Uint8Array([10, 0, 255, 10])],
    [
      'every optional field',
      {
        ...header,
        metadata: { tenant: 'acme' },
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'a=b',
      },
      bytes('{"total":9}'),
    ],
    ['an empty payload', header, new Uint8Array(0)],
  ])('%s', (_, given, payload) => {
    const content = encodeEnvelope(given, payload)
    const decoded = decodeEnvelope(content)
    expect(decoded.header).toEqual(given)
    expect([...decoded.payload]).toEqual([...payload])
  })

  test('the header is one line with the fields in the documented order, whatever order they were given in', () => {
    const shuffled = { tracestate: 'a=b', ...header, traceparent: 't', metadata: { k: 'v' } }
    const content = encodeEnvelope(shuffled, bytes('body'))
    const text = new TextDecoder().decode(content)
    expect(text.indexOf('\n')).toBe(encodeHeader(shuffled).length)
    expect(Object.keys(JSON.parse(text.split('\n')[0]!))).toEqual([
      'v',
      'id',
      'type',
      'aggregateType',
      'aggregateId',
      'time',
      'contentType',
      'metadata',
      'traceparent',
      'tracestate',
    ])
    expect(text.endsWith('\nbody')).toBe(true)
  })

  test('the decoded payload is a view into the content, not a copy', () => {
    const content = encodeEnvelope(header, bytes('abc'))
    const { payload } = decodeEnvelope(content)
    expect(payload.buffer).toBe(content.buffer)
  })
})

describe('forward compatibility', () => {
  test('unknown header fields are ignored', () => {
    const decoded = decodeEnvelope(withHeader({ ...header, schema: 'v9', extra: { nested: [1] } }))
    expect(decoded.header).toMatchObject(header)
    expect(new TextDecoder().decode(decoded.payload)).toBe('p')
  })

  test.each([2, 0, '1', null, undefined])('version %s is ENVELOPE_VERSION (a poison message)', (v) => {
    const error = (() => {
      try {
        decodeEnvelope(withHeader({ ...header, v }))
      } catch (error) {
        return error
      }
    })()
    expect(error).toBeInstanceOf(FactlibError)
    expect(error).toMatchObject({ code: 'ENVELOPE_VERSION', retriable: false })
    expect(ENVELOPE_VERSION).toBe(1)
  })
})

describe('bad input is ENVELOPE_INVALID', () => {
  test.each<[string, Uint8Array]>([
    ['no newline', bytes(JSON.stringify(header))],
    ['an empty content', new Uint8Array(0)],
    ['a header that is not JSON', bytes('{not json}\np')],
    ['a header that is not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d, 10])],
    ['a header that is an array', withHeader([1])],
    ['a header that is a string', withHeader('v1')],
    ['a missing id', withHeader({ ...header, id: undefined })],
    ['a numeric aggregateId', withHeader({ ...header, aggregateId: 42 })],
    ['a missing contentType', withHeader({ ...header, contentType: undefined })],
    ['metadata with a non-string value', withHeader({ ...header, metadata: { n: 1 } })],
    ['metadata that is an array', withHeader({ ...header, metadata: ['a'] })],
    ['a numeric traceparent', withHeader({ ...header, traceparent: 1 })],
  ])('%s', (_, content) => {
    expect(() => decodeEnvelope(content)).toThrow(expect.objectContaining({ code: 'ENVELOPE_INVALID' }))
  })
})
