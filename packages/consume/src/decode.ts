import { FactlibError } from './errors.js'
import type { Fact } from './fact.js'

type Bytes = Uint8Array | string
type HeaderValue = Bytes | readonly Bytes[] | readonly number[] | null | undefined

/**
 * A Kafka record in any shape users hold: a kafkajs `eachMessage` payload (`{ topic, partition, message }`,
 * or a `batch.messages` entry given with its batch's topic and partition), a `@platformatic/kafka` message,
 * or one record of a Lambda MSK / self-managed Kafka event (base64 `key`/`value`, headers as an array of
 * single-key objects of byte values).
 */
export interface KafkaRecord {
  topic: string
  partition: number
  offset?: string | number | bigint
  key?: Bytes | null
  value?: Bytes | null
  headers?:
    | Record<string, HeaderValue>
    | ReadonlyMap<Bytes, HeaderValue>
    | ReadonlyArray<Record<string, readonly number[]>>
  message?: Omit<KafkaRecord, 'topic' | 'partition' | 'message'>
}

const text = new TextDecoder()
const str = (value: Bytes) => (typeof value === 'string' ? value : text.decode(value))
const bytes = (value: HeaderValue): Bytes | undefined =>
  // One header name may repeat (kafkajs gives an array); a Lambda header value is an array of byte values,
  // empty for an empty value. A header without a value (null) is present and empty.
  Array.isArray(value)
    ? typeof value[0] === 'string' || value[0] instanceof Uint8Array
      ? (value[value.length - 1] as Bytes)
      : Uint8Array.from(value as number[])
    : value === null
      ? ''
      : (value as Bytes | undefined)
const base64 = (value: string) => Uint8Array.from(atob(value), (c) => c.charCodeAt(0))

const KNOWN =
  /^(ce_(specversion|id|source|type|time|aggregatetype|aggregateid)|content-type|traceparent|tracestate|factlib-lsn)$/

/**
 * Decode a Kafka record into a {@link Fact}: a record the relay produced, or any CloudEvents 1.0 binary-mode
 * record. Throws a `FactlibError` with code `NOT_A_FACT` for a record without `ce_id`, `ce_source` and
 * `ce_type`, and `FACT_DATA_INVALID` for a JSON payload that does not parse.
 *
 * @example
 * ```ts
 * import { decode } from '@factlib/consume'
 *
 * await consumer.run({ eachMessage: async (payload) => {
 *   const fact = decode<{ total: number }>(payload)
 *   console.log(fact.type, fact.aggregateId, fact.data.total)
 * } })
 * ```
 */
export function decode<T = unknown>(record: KafkaRecord): Fact<T> {
  const { topic, partition } = record
  const { offset, key, value, headers = {} } = record.message ?? record
  // Only a Lambda event numbers its offsets and lists its headers; its key and value are base64.
  const lambda = Array.isArray(headers) || typeof offset === 'number'
  const all: Record<string, string> = {}
  const pairs: Iterable<[Bytes, HeaderValue]> =
    headers instanceof Map
      ? headers
      : Array.isArray(headers)
        ? (headers as Record<string, number[]>[]).flatMap(Object.entries)
        : Object.entries(headers)
  for (const [name, each] of pairs) {
    const header = bytes(each)
    if (header !== undefined) all[str(name)] = str(header)
  }
  const { ce_id: id, ce_source: source, ce_type: type } = all
  if (!id || !source || !type)
    throw new FactlibError(
      'NOT_A_FACT',
      `${topic}[${partition}]@${offset}: no ce_id, ce_source and ce_type headers: not a fact`,
    )
  const metadata: Record<string, string> = {}
  for (const name in all) if (!KNOWN.test(name)) metadata[name] = all[name]!
  const raw = value == null ? '' : lambda && typeof value === 'string' ? base64(value) : value
  const payload = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw
  const contentType = all['content-type'] ?? ''
  let data: unknown
  if (/^[^;]*[/+]json\s*(;|$)/i.test(contentType))
    try {
      data = JSON.parse(str(payload))
    } catch (cause) {
      throw new FactlibError(
        'FACT_DATA_INVALID',
        `fact ${id}: content type ${contentType} but the payload is not JSON`,
        cause,
      )
    }
  const keyText = key == null ? '' : lambda && typeof key === 'string' ? str(base64(key)) : str(key)
  return {
    id,
    source,
    type,
    aggregateType: all.ce_aggregatetype ?? '',
    aggregateId: all.ce_aggregateid ?? keyText,
    time: all.ce_time ?? '',
    contentType,
    metadata,
    ...(all.traceparent !== undefined && { traceparent: all.traceparent }),
    ...(all.tracestate !== undefined && { tracestate: all.tracestate }),
    data: data as T,
    payload,
    ...(all['factlib-lsn'] !== undefined && { lsn: all['factlib-lsn'] }),
    topic,
    partition,
    offset: String(offset ?? ''),
  }
}
