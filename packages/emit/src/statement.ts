import type { PreparedEmit } from './emitter.js'
import type { Fact } from './fact.js'
import { failure } from './validate.js'

const encoder = new TextEncoder()
// ignoreBOM keeps a leading byte-order mark in the text instead of silently dropping its three bytes.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One SQL statement and its parameters, every one a text string so every driver sends them alike. */
export interface Statement {
  readonly text: string
  readonly params: string[]
}

// Filled on first use: fewer bytes to ship than building the table up front, and as fast once warm.
const HEX: string[] = []

/** Lowercase hex of `bytes`. */
function hex(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += HEX[byte] ??= (byte | 256).toString(16).slice(1)
  return text
}

/**
 * The one statement that emits each fact's envelope v1 content under `source`, in array order, with the
 * facts: one array-literal parameter that `unnest` yields in order, so the messages reach the WAL in array
 * order. Content goes through the text overload when all of it is UTF-8 text without NUL, otherwise all of it
 * through the bytea overload: the bytes reaching the WAL are the same. Rejects content over `maxBytes`.
 */
export function emitStatement(
  source: string,
  facts: Array<[Fact, string | Uint8Array]>,
  maxBytes: number,
  many: boolean,
): PreparedEmit {
  let binary = false
  const contents = facts.map(([fact, body], i) => {
    // toFact puts the header's fields in header order: the fact without source, data and payload is the header.
    const head = `${JSON.stringify({ v: 1, ...fact, source: undefined, data: undefined, payload: undefined })}\n`
    const bytes = typeof body === 'string' ? encoder.encode(body) : body
    const size = encoder.encode(head).length + bytes.length
    if (size > maxBytes)
      failure(many ? i : undefined, 'FACT_TOO_LARGE')(
        'data' in fact ? 'data' : 'payload',
        'maxBytes',
        `${size} > ${maxBytes}`,
      )
    let text: string | undefined
    try {
      text = decoder.decode(bytes)
    } catch {}
    // Not UTF-8 (no text), or with NUL: bytea.
    binary ||= text?.includes('\0') !== false
    return [head, bytes, text] as const
  })
  const elements = contents.map(([head, bytes, text]) =>
    binary
      ? `"\\\\x${hex(encoder.encode(head))}${hex(bytes)}"`
      : `"${(head + text).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
  )
  return {
    text: `select count(pg_logical_emit_message(true, $1::text, m)) from unnest($2::${binary ? 'bytea' : 'text'}[]) m`,
    params: [source, `{${elements}}`],
    facts: facts.map(([fact]) => fact),
  }
}
