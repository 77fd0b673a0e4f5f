/** W3C trace context of the request that emits a fact. */
export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>` */
  traceparent?: string | undefined
  tracestate?: string | undefined
}

interface FactFields extends TraceContext {
  /** `[a-zA-Z0-9._-]{1,100}`; with the source it names the Kafka topic. */
  aggregateType: string
  /** 1..1024 characters; the Kafka key, so facts of one aggregate keep their order. */
  aggregateId: string
  /** What happened, e.g. `order.placed`; 1..256 characters. */
  type: string
  /** Extra Kafka headers: keys `[a-zA-Z0-9._-]{1,64}`, not `ce_*`, `factlib-*`, `content-type` or trace keys. */
  metadata?: Record<string, string> | undefined
}

/**
 * A fact to emit: exactly one of `data` (any JSON value, sent as `application/json`) or `payload` (bytes or
 * a string, sent as is with `contentType`, default `application/octet-stream`).
 */
export type FactInput = FactFields & {
  /** A UUID (UUIDv7 recommended); generated unless given. */
  id?: string | undefined
  /** RFC 3339 UTC with milliseconds, e.g. `2024-05-06T07:08:09.123Z`; the emit time unless given. */
  time?: string | Date | undefined
  /** A media type; with `data` only `application/json`. */
  contentType?: string | undefined
} & ({ data: unknown; payload?: undefined } | { payload: Uint8Array | string; data?: undefined })

/** A fact as it was emitted: every field filled in. */
export interface Fact extends FactFields {
  id: string
  /** The emitting service: the emitter's `source`, the WAL message prefix. */
  source: string
  time: string
  contentType: string
  data?: unknown
  payload?: Uint8Array | string
}
