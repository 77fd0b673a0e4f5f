/** What the queue needs to know of an entry: its record's bytes on the wire. */
export interface Sized {
  readonly bytes: number
}

/**
 * Records read from the WAL and not yet handed to the sink, in WAL order; batches are taken from the front
 * up to a count and a byte limit. Taken entries are released by moving an index, not by `shift()`, which
 * would cost time in proportion to the queue (tens of thousands of records on a backlog).
 */
export class BatchQueue<Entry extends Sized> {
  readonly #entries: Entry[] = []
  #head = 0
  #bytes = 0

  push(entry: Entry): void {
    this.#entries.push(entry)
    this.#bytes += entry.bytes
  }

  /** Entries not yet taken. */
  get length(): number {
    return this.#entries.length - this.#head
  }

  /** Their record bytes. */
  get bytes(): number {
    return this.#bytes
  }

  /** Whether a batch as large as the limits allow is waiting. */
  full(maxRecords: number, maxBytes: number): boolean {
    return this.#bytes >= maxBytes || this.length >= maxRecords
  }

  /** Take up to `maxRecords` entries whose bytes add up to at most `maxBytes` (at least one entry). */
  take(maxRecords: number, maxBytes: number): Entry[] {
    const batch: Entry[] = []
    let bytes = 0
    while (this.#head < this.#entries.length && batch.length < maxRecords) {
      const entry = this.#entries[this.#head] as Entry
      if (batch.length > 0 && bytes + entry.bytes > maxBytes) break
      batch.push(entry)
      bytes += entry.bytes
      this.#head += 1
    }
    this.#bytes -= bytes
    if (this.#head === this.#entries.length) {
      this.#entries.length = 0
      this.#head = 0
    } else if (this.#head >= 1024) {
      this.#entries.splice(0, this.#head)
      this.#head = 0
    }
    return batch
  }
}
