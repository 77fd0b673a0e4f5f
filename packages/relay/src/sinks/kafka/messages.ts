import type { MessageToProduce } from '@platformatic/kafka'
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
 * @example
 * ```ts
 * const messages = new ProduceMessages()
 * await producer.send({ messages: messages.of(records) })
 * ```
 */
export class ProduceMessages {
  readonly #names = new TextCache()
  readonly #values = new TextCache()
  #lsn = ''
  #lsnBuffer = Buffer.alloc(0)

  /** The messages of `records`, in order. */
  of(records: readonly SinkRecord[]): MessageToProduce[] {
    return records.map((record) => this.message(record))
  }

  message(record: SinkRecord): MessageToProduce {
    const headers = new Map<Buffer, Buffer>()
    for (const name in record.headers) {
      const text = record.headers[name] ?? ''
      headers.set(this.#names.get(name), this.#value(name, text))
    }
    const { value } = record
    return {
      topic: record.topic,
      ...(record.key === null ? {} : { key: Buffer.from(record.key) }),
      value: Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      headers,
    }
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
