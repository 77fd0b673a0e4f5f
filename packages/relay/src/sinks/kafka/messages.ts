import type { MessageToProduce, Partitioner } from '@platformatic/kafka'
import type { SinkRecord } from '../sink.js'

/** Header values that repeat from fact to fact; others (`ce_id`, `ce_time`, …) are encoded each time. */
const REPEATING = new Set(['ce_specversion', 'content-type', 'ce_source', 'ce_type', 'ce_aggregatetype'])
/** Entries per cache; past it the cache starts over, so a stream of distinct values costs no memory. */
const CACHE_ENTRIES = 512

/**
 * Turns the sink's records into `@platformatic/kafka` messages of Buffers, so the client needs no
 * serializers: the value is a view of the record's bytes (no copy), and the Buffers of header names and of
 * values that repeat across facts (`ce_specversion`, `content-type`, `ce_source`, `factlib-lsn` within a
 * transaction, …) are built once and shared. Every record, and so every Buffer, is only ever read.
 *
 * Given a topic's partition count, a message carries its partition, computed as the producer would
 * (murmur2 of the key, as the Java client): the sink then knows which records a partly failed send
 * appended.
 *
 * @example
 * ```ts
 * const messages = new ProduceMessages(kafka.compatibilityPartitioner)
 * await producer.send({ messages: messages.of(records, (topic) => partitionCounts.get(topic)) })
 * ```
 */
export class ProduceMessages {
  readonly #names = new TextCache()
  readonly #values = new TextCache()
  #lsn = ''
  #lsnBuffer = Buffer.alloc(0)

  /** `partitioner`: the producer's own (the client's `compatibilityPartitioner`). */
  constructor(readonly partitioner: Partitioner<Buffer, Buffer, Buffer, Buffer>) {}

  /** The messages of `records`, in order; `partitions` gives a topic's partition count when known. */
  of(records: readonly SinkRecord[], partitions?: (topic: string) => number | undefined): MessageToProduce[] {
    return records.map((record) => this.message(record, partitions?.(record.topic)))
  }

  message(record: SinkRecord, partitions?: number): MessageToProduce {
    const headers = new Map<Buffer, Buffer>()
    for (const name in record.headers) {
      const text = record.headers[name] ?? ''
      headers.set(this.#names.get(name), this.#value(name, text))
    }
    const { value } = record
    const message: MessageToProduce = {
      topic: record.topic,
      value: Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      headers,
    }
    if (record.key !== null) message.key = Buffer.from(record.key)
    if (partitions !== undefined && partitions > 0)
      message.partition = this.partitioner(message, message.key, { metadata: undefined }) % partitions
    return message
  }

  #value(name: string, text: string): Buffer {
    if (REPEATING.has(name)) return this.#values.get(text)
    if (name !== 'factlib-lsn') return Buffer.from(text)
    // Facts of one transaction follow each other and share their commit position.
    if (text !== this.#lsn) {
      this.#lsn = text
      this.#lsnBuffer = Buffer.from(text)
    }
    return this.#lsnBuffer
  }
}

class TextCache {
  readonly #buffers = new Map<string, Buffer>()

  get(text: string): Buffer {
    let buffer = this.#buffers.get(text)
    if (buffer === undefined) {
      if (this.#buffers.size >= CACHE_ENTRIES) this.#buffers.clear()
      buffer = Buffer.from(text)
      this.#buffers.set(text, buffer)
    }
    return buffer
  }
}
