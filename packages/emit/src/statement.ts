import { encodeEnvelope, encodeHeader } from './envelope.js'
import type { Fact } from './fact.js'
import { hex } from './uuid.js'
import { failure } from './validate.js'

const encoder = new TextEncoder()
// ignoreBOM keeps a leading byte-order mark in the text instead of silently dropping its three bytes.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One SQL statement and its parameters, every one a text string so every driver sends them alike. */
export interface Statement {
  readonly text: string
  readonly params: string[]
}

/**
 * Envelope v1 content of a fact: a string when the whole content is UTF-8 text without NUL (the text
 * overload), bytes otherwise (the bytea overload). Rejects content over `maxBytes`.
 */
export function encodeFact(fact: Fact, body: string | Uint8Array, maxBytes: number, index?: number) {
  const text = typeof body === 'string' ? (body.includes('\0') ? undefined : body) : utf8(body)
  let content: string | Uint8Array
  let size: number
  if (text === undefined) {
    content = encodeEnvelope(fact, typeof body === 'string' ? encoder.encode(body) : body)
    size = content.length
  } else {
    content = `${encodeHeader(fact)}\n${text}`
    // A UTF-16 code unit is at most 3 UTF-8 bytes: only count exactly when that bound is over the limit.
    size = content.length * 3 > maxBytes ? encoder.encode(content).length : 0
  }
  if (size > maxBytes)
    failure(index, 'FACT_TOO_LARGE')(
      fact.data === undefined ? 'payload' : 'data',
      'maxBytes',
      `envelope ${size} > ${maxBytes} bytes`,
    )
  return content
}

function utf8(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * The one statement that emits every content under `source`, in array order: one array-literal parameter
 * that `unnest` yields in order, so the messages reach the WAL in array order. If any content needs bytea
 * the whole array goes as bytea: the bytes reaching the WAL are the same.
 */
export function emitStatement(source: string, contents: Array<string | Uint8Array>): Statement {
  const binary = contents.some((content) => typeof content !== 'string')
  const elements = contents.map((content) =>
    binary
      ? `"\\\\x${hex(typeof content === 'string' ? encoder.encode(content) : content)}"`
      : `"${(content as string).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
  )
  return {
    text: `select count(pg_logical_emit_message(true, $1::text, m)) from unnest($2::${binary ? 'bytea' : 'text'}[]) m`,
    params: [source, `{${elements}}`],
  }
}
