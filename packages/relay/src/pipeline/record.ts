import type { Envelope } from '@factlib/emit/envelope'
import type { SinkRecord } from '../sinks/sink.js'

/** Where a fact came from in the WAL. */
export interface WalOrigin {
  /** The WAL message prefix: the emitting service. */
  source: string
  /** Commit LSN of the fact's transaction (`X/Y`), or the message's own LSN when it has none. */
  lsn: string
}

/**
 * The Kafka record of a fact: CloudEvents 1.0 Kafka binding, binary content mode. The value is the payload
 * unchanged; everything else travels in headers.
 */
export function factRecord({ header, payload }: Envelope, origin: WalOrigin, topic: string): SinkRecord {
  const headers: Record<string, string> = {}
  if (header.metadata) Object.assign(headers, header.metadata)
  Object.assign(headers, {
    ce_specversion: '1.0',
    ce_id: header.id,
    ce_source: origin.source,
    ce_type: header.type,
    ce_time: header.time,
    ce_aggregatetype: header.aggregateType,
    ce_aggregateid: header.aggregateId,
    'content-type': header.contentType,
    'factlib-lsn': origin.lsn,
  })
  if (header.traceparent !== undefined) headers.traceparent = header.traceparent
  if (header.tracestate !== undefined) headers.tracestate = header.tracestate
  return { topic, key: header.aggregateId, value: payload, headers }
}

/** Why a message went to the dead-letter topic; the `reason` label of `factlib_dead_lettered_total`. */
export type DeadLetterReason =
  | 'invalid_envelope'
  | 'unknown_version'
  | 'non_transactional'
  | 'too_large'
  | 'invalid_topic'

/**
 * A dead-letter record: the original WAL message content as value (nothing is lost), the reason in
 * `factlib-error`, where it came from in `factlib-lsn` and `factlib-source`.
 */
export function deadLetterRecord(
  dlqTopic: string,
  content: Uint8Array,
  origin: WalOrigin,
  reason: DeadLetterReason,
  message: string,
  key: string | null = null,
): SinkRecord {
  return {
    topic: dlqTopic,
    key,
    value: content,
    headers: {
      'factlib-error': `${reason}: ${message}`,
      'factlib-reason': reason,
      'factlib-lsn': origin.lsn,
      'factlib-source': origin.source,
    },
  }
}

/** Bytes a record holds in memory, counted against FACTLIB_MAX_INFLIGHT_BYTES. */
export function recordSize(record: SinkRecord): number {
  let size = record.value.byteLength + (record.key?.length ?? 0) + record.topic.length
  for (const name in record.headers) size += name.length + (record.headers[name]?.length ?? 0)
  return size
}
