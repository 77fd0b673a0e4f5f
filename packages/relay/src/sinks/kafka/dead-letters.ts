import type { Logger } from '../../observability/log.js'
import { sinkDeadLetter } from '../../pipeline/dead-letter.js'
import { type DeadLetterReason, recordSize } from '../../pipeline/record.js'
import type { SinkRecord } from '../sink.js'
import type { ProduceFailure } from './errors.js'

type SinkDeadLetterReason = Extract<DeadLetterReason, 'too_large' | 'invalid_topic'>

/**
 * The dead letters the Kafka sink makes of records that can never be produced. Each letter remembers its
 * original, so that `send` reports the record it was given, and whether it is already the header-only
 * form, the last one there is.
 */
export class SinkDeadLetters {
  readonly #letters = new WeakMap<
    SinkRecord,
    { reason: SinkDeadLetterReason; original: SinkRecord; minimal: boolean }
  >()

  constructor(
    readonly dlqTopic: string,
    readonly log: Logger,
  ) {}

  /** The original record and reason when `record` is a dead letter made here. */
  of(record: SinkRecord): { original: SinkRecord; reason: SinkDeadLetterReason } | undefined {
    return this.#letters.get(record)
  }

  /**
   * Add the dead letters among `records` to `into` as original → reason, leaving out those still
   * `unacknowledged`: what `send` reports once Kafka has them.
   */
  report(
    records: readonly SinkRecord[],
    unacknowledged: readonly SinkRecord[],
    into: Map<SinkRecord, DeadLetterReason>,
  ): void {
    const pending = new Set(unacknowledged)
    for (const record of records) {
      const letter = pending.has(record) ? undefined : this.#letters.get(record)
      if (letter) into.set(letter.original, letter.reason)
    }
  }

  /** `record`, or its dead letter when it has more than `maxRecordBytes`. */
  withinLimit(record: SinkRecord, maxRecordBytes: number): SinkRecord {
    const size = recordSize(record)
    if (size <= maxRecordBytes) return record
    return this.letter(
      record,
      'too_large',
      `the record has ${size} bytes; the sink sends at most ${maxRecordBytes}`,
      false,
    )
  }

  /**
   * The next form of a single record the broker refused for good, or undefined when there is none left
   * (then `failure.hint` says why).
   */
  next(record: SinkRecord, failure: ProduceFailure): SinkRecord | undefined {
    const reason = failure.deadLetterReason ?? 'too_large'
    const previous = this.#letters.get(record)
    if (previous?.minimal) {
      failure.hint = `the dead-letter topic ${this.dlqTopic} refuses even a header-only record (${failure.kind}); raise its max.message.bytes`
      return undefined
    }
    const message =
      reason === 'too_large'
        ? `the broker refused the record as too large (${failure.kind}); its ${record.value.byteLength}-byte value is not kept`
        : `the broker refused the topic ${JSON.stringify(record.topic)} (${failure.kind})`
    return this.letter(previous?.original ?? record, reason, message, previous !== undefined)
  }

  letter(original: SinkRecord, reason: SinkDeadLetterReason, message: string, minimal: boolean): SinkRecord {
    const letter = sinkDeadLetter(original, this.dlqTopic, reason, message, minimal)
    this.#letters.set(letter, { reason, original, minimal })
    this.log.warn('dead-lettering a record that can never be produced', {
      reason,
      topic: original.topic,
      key: original.key,
      lsn: original.headers['factlib-lsn'],
      ceId: original.headers.ce_id,
      detail: message,
    })
    return letter
  }
}
