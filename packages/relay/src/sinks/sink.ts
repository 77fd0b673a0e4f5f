import type { DeadLetterReason } from '../pipeline/record.js'

/** One Kafka record as the relay produces it. */
export interface SinkRecord {
  topic: string
  /** The aggregate id: records with one key keep their order. `null` only for undecodable dead letters. */
  key: string | null
  /** The fact's payload, byte for byte. */
  value: Uint8Array
  headers: Record<string, string>
}

/** What became of a batch: records the sink sent to the dead-letter topic instead, with why. */
export interface SendResult {
  deadLettered: ReadonlyMap<SinkRecord, DeadLetterReason>
}

/** The result of a batch in which nothing was dead-lettered. */
export const ALL_DELIVERED: SendResult = { deadLettered: new Map() }

/** Whether a sink can take records now, and if not, why (shown on /readyz and in logs). */
export type SinkReadiness = { ready: true } | { ready: false; reason: string }

/**
 * Where facts go. The relay sends one batch at a time and confirms WAL positions only after `send`
 * resolved, so a sink must resolve only once every record of the batch is durably accepted.
 */
export interface Sink {
  readonly kind: 'kafka' | 'stdout'
  /** Connect and check access; throws a FactlibError saying how to fix an unreachable or refusing sink. */
  start(): Promise<void>
  /**
   * Deliver `records` in order per topic and key. Resolves when every record is acknowledged or, for a
   * record that can never be produced, dead-lettered (reported in the result). Retriable failures are
   * retried without end; rejects only when `signal` aborts, after the attempt under way has settled.
   */
  send(records: SinkRecord[], signal: AbortSignal): Promise<SendResult>
  readiness(): SinkReadiness
  close(): Promise<void>
}
