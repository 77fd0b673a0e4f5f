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
    const { topic, partition } = record
    const offset = String((record.message ?? record).offset)
    console.warn(
      JSON.stringify({
        level: 'warn',
        msg: 'not a fact: skipped',
        topic,
        partition,
        offset,
        code: 'NOT_A_FACT',
      }),
    )
  }
}
