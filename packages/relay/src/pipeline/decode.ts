import { FactlibError } from '@factlib/emit'
import { decodeEnvelope } from '@factlib/emit/envelope'
import type { SinkRecord } from '../sinks/sink.js'
import { errorMessage } from '../util/error-fields.js'
import { type DeadLetterReason, deadLetterRecord, factRecord, type WalOrigin } from './record.js'
import { invalidTopicReason, topicFor } from './topic.js'

/** What the relay makes of one logical message: another tool's (skip it), or a record to hand to the sink. */
export type Decoded =
  | { foreign: true }
  | { foreign: false; record: SinkRecord; deadLetter: DeadLetterReason | undefined }

export interface DecodeOptions {
  /** Topic template, `{source}.{aggregateType}` by default. */
  topic: string
  dlqTopic: string
  /** Sources to relay; `undefined`: every message that starts like an envelope. */
  sources: ReadonlySet<string> | undefined
}

/** How every envelope's content begins (`{"v":`), the mark of the relay's own messages. */
const ENVELOPE_MARKER = new TextEncoder().encode('{"v":')
const FOREIGN: Decoded = { foreign: true }

/**
 * Decide what a logical message becomes. It is the relay's when its prefix is a configured source or, with
 * no sources configured, when its content starts like an envelope; everything else belongs to another tool
 * on the same database. The relay's own message becomes its fact's record, or a dead letter saying why it
 * cannot be one. `content` is a view into the replication connection's read buffer, which the next read
 * overwrites: what a record keeps is copied (the payload, never the header line).
 *
 * @param origin the source and, for a transactional message, its transaction's commit LSN.
 */
export function decodeMessage(
  message: { transactional: boolean; prefix: string; content: Uint8Array },
  origin: WalOrigin,
  options: DecodeOptions,
): Decoded {
  const { transactional, prefix, content } = message
  if (!isOurs(prefix, content, options.sources)) return FOREIGN
  const deadLetter = (reason: DeadLetterReason, why: string, key: string | null = null): Decoded => ({
    foreign: false,
    record: deadLetterRecord(options.dlqTopic, Buffer.from(content), origin, reason, why, key),
    deadLetter: reason,
  })
  // It survives a rollback of the transaction that wrote it, so it is never published as a fact.
  if (!transactional)
    return deadLetter(
      'non_transactional',
      'a non-transactional message (pg_logical_emit_message(false, ...)) survives rollbacks',
    )
  let envelope: ReturnType<typeof decodeEnvelope>
  try {
    envelope = decodeEnvelope(content)
  } catch (error) {
    const versioned = error instanceof FactlibError && error.code === 'ENVELOPE_VERSION'
    return deadLetter(versioned ? 'unknown_version' : 'invalid_envelope', errorMessage(error))
  }
  const topic = topicFor(options.topic, prefix, envelope.header.aggregateType)
  const invalid = invalidTopicReason(topic)
  if (invalid !== undefined) return deadLetter('invalid_topic', invalid, envelope.header.aggregateId)
  const payload = Buffer.from(envelope.payload)
  return {
    foreign: false,
    record: factRecord({ header: envelope.header, payload }, origin, topic),
    deadLetter: undefined,
  }
}

function isOurs(prefix: string, content: Uint8Array, sources: ReadonlySet<string> | undefined): boolean {
  if (sources) return sources.has(prefix)
  for (let index = 0; index < ENVELOPE_MARKER.length; index++)
    if (content[index] !== ENVELOPE_MARKER[index]) return false
  return true
}
