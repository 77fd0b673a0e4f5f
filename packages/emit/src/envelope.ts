import { FactlibError } from './errors.js'

/**
 * Envelope v1: the content of the WAL message, and the whole contract between emitter and relay.
 *
 * ```
 * content = UTF-8(JSON.stringify(header)) + 0x0A + payload bytes      prefix = source
 * ```
 *
 * `JSON.stringify` never writes a raw newline, so the first 0x0A ends the header; the payload is never
 * parsed or re-encoded.
 */
export interface EnvelopeHeader {
  v: 1
  id: string
  type: string
  aggregateType: string
  aggregateId: string
  time: string
  contentType: string
  metadata?: Record<string, string>
  traceparent?: string
  tracestate?: string
}

/** A decoded envelope; `payload` is a view into the content, not a copy. */
export interface Envelope {
  header: EnvelopeHeader
  payload: Uint8Array
}

export const ENVELOPE_VERSION = 1
const NEWLINE = 0x0a
const encoder = new TextEncoder()
// Pure: a bundle that only encodes drops it.
const decoder = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true })

/**
 * The header line of envelope v1: `JSON.stringify` of the header with its fields in a fixed order, so equal
 * facts give equal bytes. It never contains a raw newline.
 */
export function encodeHeader(header: Omit<EnvelopeHeader, 'v'>): string {
  // JSON.stringify leaves out the optional fields when they are undefined.
  return JSON.stringify({
    v: 1,
    id: header.id,
    type: header.type,
    aggregateType: header.aggregateType,
    aggregateId: header.aggregateId,
    time: header.time,
    contentType: header.contentType,
    metadata: header.metadata,
    traceparent: header.traceparent,
    tracestate: header.tracestate,
  })
}

/** Encode a header and payload as envelope v1 content. */
export function encodeEnvelope(header: Omit<EnvelopeHeader, 'v'>, payload: Uint8Array): Uint8Array {
  const head = encoder.encode(encodeHeader(header))
  const content = new Uint8Array(head.length + 1 + payload.length)
  content.set(head, 0)
  content[head.length] = NEWLINE
  content.set(payload, head.length + 1)
  return content
}

const REQUIRED = ['id', 'type', 'aggregateType', 'aggregateId', 'time', 'contentType'] as const

/**
 * Decode envelope content. Throws a {@link FactlibError} with code `ENVELOPE_INVALID` (not an envelope, or
 * a required field missing) or `ENVELOPE_VERSION` (a version this code does not know); the relay sends
 * such messages to the dead-letter topic. Unknown header fields are ignored (forward compatible).
 */
export function decodeEnvelope(content: Uint8Array): Envelope {
  const end = content.indexOf(NEWLINE)
  if (end < 0) throw invalid('no newline ends the header')
  let header: unknown
  try {
    header = JSON.parse(decoder.decode(content.subarray(0, end)))
  } catch (error) {
    throw invalid('the header is not UTF-8 JSON', error)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw invalid('the header is not a JSON object')
  const fields = header as Record<string, unknown>
  if (fields.v !== ENVELOPE_VERSION)
    throw new FactlibError(
      'ENVELOPE_VERSION',
      `envelope version ${JSON.stringify(fields.v)} is not supported by this relay (it reads v${ENVELOPE_VERSION}); ` +
        'upgrade the relay before the emitters',
    )
  for (const field of REQUIRED)
    if (typeof fields[field] !== 'string') throw invalid(`header field "${field}" is missing or not a string`)
  for (const field of ['traceparent', 'tracestate'] as const)
    if (fields[field] !== undefined && typeof fields[field] !== 'string')
      throw invalid(`header field "${field}" is not a string`)
  if (fields.metadata !== undefined && !isStringRecord(fields.metadata))
    throw invalid('header field "metadata" is not an object of strings')
  return { header: header as EnvelopeHeader, payload: content.subarray(end + 1) }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  )
}

function invalid(reason: string, cause?: unknown): FactlibError {
  return new FactlibError('ENVELOPE_INVALID', `not a factlib envelope v1: ${reason}`, { cause })
}
