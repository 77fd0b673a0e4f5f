import type { Fact } from './fact.js'
import { decodeOrSkip, type NotAFact } from './skip.js'

/** A `@platformatic/kafka` consumer message, structurally: the parts decoding and committing use. */
export interface PlatformaticMessage {
  topic: string
  partition: number
  offset: bigint
  key?: Uint8Array | null
  value?: Uint8Array | null
  headers: ReadonlyMap<Uint8Array | string, Uint8Array | string>
  /** Commits `offset + 1` for the message's partition (the stream must run with `autocommit: false`). */
  commit(): void | Promise<void>
}

/** Options of {@link consume}. */
export interface PlatformaticOptions {
  /**
   * A record that is not a fact (`NOT_A_FACT`): `'fail'` (throw: not committed), or `'skip'` it with a
   * warning line and commit past it. @default 'fail'
   */
  notAFact?: NotAFact
}

/**
 * Consume a `@platformatic/kafka` message stream opened with `autocommit: false`: for each message in
 * order, `handle(fact)`, then commit its offset, so a fact is committed in Kafka only after its inbox
 * transaction committed in PostgreSQL. Resolves when the stream ends (`stream.close()`); rejects with the
 * first error of `handle`, leaving that message uncommitted: a consumer started again reads it again, and
 * the inbox skips what was already handled.
 *
 * @example
 * ```ts
 * import { consume } from '@factlib/consume/platformatic'
 *
 * const stream = await consumer.consume({ topics: ['orders.order'], autocommit: false })
 * await consume(stream, (fact) => inbox.handle(client, fact, shipping))
 * ```
 */
export async function consume<M extends PlatformaticMessage>(
  stream: AsyncIterable<M>,
  handle: (fact: Fact, message: M) => unknown,
  { notAFact }: PlatformaticOptions = {},
): Promise<void> {
  for await (const message of stream) {
    const fact = decodeOrSkip(message, notAFact)
    if (fact) await handle(fact, message)
    await message.commit()
  }
}
