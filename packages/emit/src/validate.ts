import { ValidationError } from './errors.js'
import type { Fact, FactInput, TraceContext } from './fact.js'

// Every byte here is in every Worker bundle: rules are regular expressions, and a message names the fact,
// the field and the rule (plus the size for maxBytes, the error for data JSON.stringify refuses); the README
// explains each rule.

/** `[a-zA-Z0-9._-]{1,100}`: `\w` without the `u` flag is exactly `[a-zA-Z0-9_]`. */
export const NAME = /^[\w.-]{1,100}$/
const TYPE = /^[\s\S]{1,256}$/
const AGGREGATE_ID = /^[\s\S]{1,1024}$/
const METADATA_KEY = /^[\w.-]{1,64}$/
// Kafka header names the relay writes itself; matched case-insensitively because HTTP bridges fold case.
const RESERVED_KEY = /^(ce_|factlib-|content-type$|traceparent$|tracestate$)/i
const UUID = /^[\da-f]{8}-([\da-f]{4}-){3}[\da-f]{12}$/i
const MEDIA_TYPE = /^[\w.+-]+\/[\w.+-]+( *;[ -~]*)?$/
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}(-[ -~]*)?$/
const TRACESTATE = /^[ -~]{1,512}$/
// String.prototype.isWellFormed is ES2024: in every runtime factlib supports, not yet in its TypeScript lib.
type WellFormed = string & { isWellFormed(): boolean }
const JSON_TYPE = 'application/json'

/** Throws a {@link ValidationError} naming the field, the rule and, when it helps, a detail. */
export type Fail = (field: string, rule: string, detail?: unknown, cause?: unknown) => never

/** Failures of the fact at `index` (undefined for a single fact), or of `where`. */
export function failure(index?: number, code = 'FACT_INVALID', where = 'fact'): Fail {
  return (field, rule, detail = '', cause) => {
    throw new ValidationError(
      code,
      field,
      rule,
      `invalid ${index === undefined ? where : `facts[${index}]`} ${field}: ${rule}${detail && ` ${detail}`}`,
      { index, cause },
    )
  }
}

/** A required string matching `pattern`. */
export function text(value: unknown, field: string, fail: Fail, pattern: RegExp): string {
  if (value == null || value === '') fail(field, 'required')
  if (typeof value !== 'string') fail(field, 'string')
  if (!pattern.test(value)) fail(field, 'pattern', pattern.source)
  return value
}

/**
 * Validate one fact and fill in its defaults. Returns the fact and its body: the JSON text of `data`, or
 * `payload` as given. The fact's envelope-header fields come in header order (`emitStatement` relies on it).
 */
export function toFact(
  input: FactInput,
  fail: Fail,
  source: string,
  now: Date,
  nextId: (ms: number) => string,
  trace: TraceContext | undefined,
): [Fact, string | Uint8Array] {
  if (typeof input !== 'object' || !input) fail('', 'object')
  const { data, payload, contentType, metadata } = input
  const fact: Fact = {
    id: text(input.id ?? nextId(+now), 'id', fail, UUID),
    source,
    type: text(input.type, 'type', fail, TYPE),
    aggregateType: text(input.aggregateType, 'aggregateType', fail, NAME),
    aggregateId: text(input.aggregateId, 'aggregateId', fail, AGGREGATE_ID),
    time: toTime(input.time ?? now, fail),
    contentType: JSON_TYPE,
  }
  let body: string | Uint8Array | undefined
  if ((data === undefined) === (payload === undefined))
    fail('data', data === undefined ? 'required' : 'exclusive')
  if (data !== undefined) {
    try {
      body = JSON.stringify(data)
    } catch (error) {
      fail('data', 'json', error, error)
    }
    // undefined for a function, a symbol or a toJSON() that returns undefined: no JSON at all.
    body ?? fail('data', 'json')
    if ((contentType ?? JSON_TYPE) !== JSON_TYPE) fail('contentType', 'json')
    fact.data = data
  } else {
    if (
      typeof payload === 'string' ? !(payload as WellFormed).isWellFormed() : !(payload instanceof Uint8Array)
    )
      fail('payload', 'type')
    fact.payload = payload
    body = payload!
    fact.contentType =
      contentType == null ? 'application/octet-stream' : text(contentType, 'contentType', fail, MEDIA_TYPE)
  }
  if (metadata != null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) fail('metadata', 'object')
    for (const key of Object.keys(metadata)) {
      const field = `metadata.${key}`
      if (typeof metadata[key] !== 'string') fail(field, 'string')
      if (!METADATA_KEY.test(key)) fail(field, 'pattern')
      if (RESERVED_KEY.test(key)) fail(field, 'reserved')
      fact.metadata = metadata
    }
  }
  // A fact's own trace context wins as a whole: a tracestate belongs to its traceparent.
  const { traceparent, tracestate } = input.traceparent || input.tracestate ? input : (trace ?? {})
  if (traceparent != null) fact.traceparent = text(traceparent, 'traceparent', fail, TRACEPARENT)
  if (tracestate != null) {
    if (traceparent == null) fail('tracestate', 'traceparent')
    fact.tracestate = text(tracestate, 'tracestate', fail, TRACESTATE)
  }
  return [fact, body]
}

/** RFC 3339 UTC with milliseconds, from a `Date` or a string already in that form. */
function toTime(time: unknown, fail: Fail): string {
  try {
    // A string passes only in the canonical form: that rejects offsets, missing milliseconds and 2024-02-30.
    const iso = new Date(time as string).toISOString()
    if (time instanceof Date || iso === time) return iso
  } catch {}
  return fail('time', 'rfc3339')
}
