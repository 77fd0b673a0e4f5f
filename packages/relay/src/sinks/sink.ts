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
 * Where facts go: Kafka and stdout ship with the relay; any object with these members works too (an HTTP
 * endpoint, a queue, a test double), passed as `startRelay(config, { sink })`.
 *
 * The contract the relay's guarantees rest on:
 * - `send` resolves only once every record of the batch is durably accepted (or dead-lettered and reported
 *   in the result): the relay confirms WAL positions right after, and a confirmed fact is never sent again.
 * - Records of one topic and key must be accepted in the order of the batches and of each batch.
 * - At most {@link Sink.maxInflightSends} calls to `send` are outstanding at once; batches are handed over
 *   in WAL order. A sink that leaves it at 1 never sees a second batch before the first one resolved.
 * - A failure that can succeed later is retried inside `send`; rejecting ends the replication session,
 *   which restarts from the last confirmed position (facts after it are sent again: duplicates, no loss).
 *
 * @example
 * ```ts
 * const sink: Sink = {
 *   kind: 'webhook',
 *   async start() {},
 *   async send(records, signal) {
 *     for (const record of records)
 *       await fetch('https://example.com/facts', { method: 'POST', body: record.value, signal })
 *     return ALL_DELIVERED
 *   },
 *   readiness: () => ({ ready: true }),
 *   async close() {},
 * }
 * const config = parseConfig({ ...process.env, FACTLIB_SINK: 'custom' })
 * const relay = await startRelay(config, { log: jsonLogger(), sink })
 * ```
 */
export interface Sink {
  /** A short name for logs and `factlib status` (`kafka`, `stdout`, or your own). */
  readonly kind: string
  /**
   * How many `send` calls may be outstanding at once; each later batch holds later WAL positions.
   * @default 1
   */
  readonly maxInflightSends?: number
  /** Connect and check access; throws a FactlibError saying how to fix an unreachable or refusing sink. */
  start(): Promise<void>
  /**
   * Deliver `records` in order per topic and key. Resolves when every record is acknowledged or, for a
   * record that can never be produced, dead-lettered (reported in the result). Retriable failures are
   * retried without end; rejects only when `signal` aborts, after the attempt under way has settled.
   */
  send(records: SinkRecord[], signal: AbortSignal): Promise<SendResult>
  /** Whether the sink can take records now; shown on /readyz. */
  readiness(): SinkReadiness
  close(): Promise<void>
}
