import { decode, type KafkaRecord } from './decode.js'
import type { FactlibError } from './errors.js'
import type { Fact } from './fact.js'

/** What the consumer helpers do with a record that is not a fact. */
export type NotAFact = 'fail' | 'skip'

/**
 * Decode `record`; with `'skip'`, a record that is not a fact gives `undefined` and one warning line instead
 * of the `NOT_A_FACT` error. Every other error is thrown.
 */
export function decodeOrSkip(record: KafkaRecord, notAFact: NotAFact = 'fail'): Fact | undefined {
  try {
    return decode(record)
  } catch (error) {
    if (notAFact !== 'skip' || (error as FactlibError).code !== 'NOT_A_FACT') throw error
    logRecord('warn', 'not a fact: skipped', record, error)
  }
}

/** One JSON line about a record (stderr): where it sits, the error's code (`HANDLER_FAILED` if none) and message. */
export function logRecord(level: 'warn' | 'error', msg: string, record: KafkaRecord, error: unknown): void {
  const code = (error as { code?: unknown })?.code
  console[level](
    JSON.stringify({
      level,
      msg,
      topic: record.topic,
      partition: record.partition,
      offset: String((record.message ?? record).offset),
      code: typeof code === 'string' ? code : 'HANDLER_FAILED',
      error: message(error),
    }),
  )
}

/** An error's message, or the thrown value as text. */
export const message = (error: unknown) => (error instanceof Error ? error.message : String(error))
