/** A fact as a consumer receives it: the emitted fact plus where it sits in Kafka. */
export interface Fact<T = unknown> {
  /** The fact's id (`ce_id`): the inbox key; equal on every redelivery. */
  id: string
  /** The emitting service (`ce_source`). */
  source: string
  /** What happened, e.g. `order.placed` (`ce_type`). */
  type: string
  /** `ce_aggregatetype`, or `''` for a CloudEvent of another producer that has none. */
  aggregateType: string
  /** `ce_aggregateid`, else the record key, else `''`. */
  aggregateId: string
  /** When the fact was emitted (`ce_time`), ISO 8601, or `''` if the record has none. */
  time: string
  /** The payload's media type (`content-type`). */
  contentType: string
  /** Every header that is not one of the above: the fact's metadata and other CloudEvents extensions. */
  metadata: Record<string, string>
  traceparent?: string
  tracestate?: string
  /** The payload parsed as JSON when `contentType` is JSON (`application/json` or `…+json`), else `undefined`. */
  data: T
  /** The payload bytes, exactly as emitted. */
  payload: Uint8Array
  /** Commit LSN of the fact's transaction (`factlib-lsn`), absent for other producers' records. */
  lsn?: string
  topic: string
  partition: number
  /** The record's offset, as a decimal string (offsets are 64-bit). */
  offset: string
}
