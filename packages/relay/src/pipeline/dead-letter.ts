import type { SinkRecord } from '../sinks/sink.js'
import { type DeadLetterReason, deadLetterRecord } from './record.js'

const EMPTY = new Uint8Array(0)
const SET_BY_DEAD_LETTER = new Set(['factlib-error', 'factlib-reason', 'factlib-lsn', 'factlib-source'])

/**
 * The dead letter of a record the sink can never produce. Its value is the payload for an invalid topic,
 * and empty for a record too large (the dead letter must itself fit; the original size is in
 * `factlib-value-bytes`). The fact's own headers (`ce_id`, `ce_type`, …) are kept so that a consumer can
 * tell which fact is missing; `minimal` keeps only `ce_id`, for when even the headers are too large.
 */
export function sinkDeadLetter(
  record: SinkRecord,
  dlqTopic: string,
  reason: Extract<DeadLetterReason, 'too_large' | 'invalid_topic'>,
  message: string,
  minimal = false,
): SinkRecord {
  const headers = record.headers
  const origin = {
    source: headers.ce_source ?? headers['factlib-source'] ?? '',
    lsn: headers['factlib-lsn'] ?? '',
  }
  const previous = headers['factlib-error']
  const full = previous ? `${message} (it was a dead letter already: ${previous})` : message
  const explained = minimal && full.length > 1_000 ? `${full.slice(0, 1_000)}…` : full
  const value = reason === 'too_large' ? EMPTY : record.value
  const letter = deadLetterRecord(dlqTopic, value, origin, reason, explained, record.key)
  const kept: Record<string, string> = {}
  for (const [name, text] of Object.entries(headers))
    if (!SET_BY_DEAD_LETTER.has(name) && (!minimal || name === 'ce_id')) kept[name] = text
  letter.headers = {
    ...kept,
    ...letter.headers,
    'factlib-topic': record.topic,
    'factlib-value-bytes': String(record.value.byteLength),
  }
  return letter
}
