import type { KafkaRecord } from './decode.js'
import type { Fact } from './fact.js'
import { decodeOrSkip, type NotAFact } from './skip.js'

type Message = NonNullable<KafkaRecord['message']> & { offset: string }

/** What the helpers need of a kafkajs `Consumer`: `commitOffsets`. */
export interface KafkaJsConsumer {
  commitOffsets(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<unknown>
}

/** A kafkajs `eachMessage` payload, structurally. */
export interface KafkaJsEachMessagePayload {
  topic: string
  partition: number
  message: Message
}

/** A kafkajs `eachBatch` payload, structurally: the parts the helper uses. */
export interface KafkaJsEachBatchPayload {
  batch: { topic: string; partition: number; messages: Message[] }
  resolveOffset(offset: string): void
  heartbeat(): Promise<void>
  isRunning(): boolean
  isStale(): boolean
}

/** Options of {@link eachMessage} and {@link eachBatch}. */
export interface KafkaJsOptions {
  /**
   * A record that is not a fact (`NOT_A_FACT`): `'fail'` (throw: not committed, so redelivered and its
   * partition stops), or `'skip'` it with a warning line and commit past it. @default 'fail'
   */
  notAFact?: NotAFact
}

/**
 * An `eachMessage` for `consumer.run({ autoCommit: false, eachMessage })` that commits a record's offset
 * only after `handle(fact)` resolved: run your inbox transaction in `handle`, and a fact is committed in
 * Kafka only once its effects are committed in PostgreSQL. A handler that throws commits nothing: kafkajs
 * delivers the record again (after a restart or rebalance too), and the inbox skips what was handled.
 *
 * @example
 * ```ts
 * import { eachMessage } from '@factlib/consume/kafkajs'
 *
 * await consumer.run({
 *   autoCommit: false,
 *   eachMessage: eachMessage(consumer, (fact) => inbox.handle(client, fact, shipping)),
 * })
 * ```
 */
export function eachMessage(
  consumer: KafkaJsConsumer,
  handle: (fact: Fact, payload: KafkaJsEachMessagePayload) => unknown,
  options: KafkaJsOptions = {},
): (payload: KafkaJsEachMessagePayload) => Promise<void> {
  return async (payload) => {
    const fact = decodeOrSkip(payload, options.notAFact)
    if (fact) await handle(fact, payload)
    await commit(consumer, payload.topic, payload.partition, payload.message.offset)
  }
}

/**
 * An `eachBatch` for `consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch })`: each
 * record in offset order as {@link eachMessage} does (commit after `handle` resolved), resolving its offset
 * and sending a heartbeat after each, and stopping when the consumer stops or the batch is stale.
 *
 * @example
 * ```ts
 * await consumer.run({
 *   autoCommit: false,
 *   eachBatchAutoResolve: false,
 *   eachBatch: eachBatch(consumer, (fact) => inbox.handle(client, fact, shipping)),
 * })
 * ```
 */
export function eachBatch(
  consumer: KafkaJsConsumer,
  handle: (fact: Fact, payload: KafkaJsEachMessagePayload) => unknown,
  options: KafkaJsOptions = {},
): (payload: KafkaJsEachBatchPayload) => Promise<void> {
  const each = eachMessage(consumer, handle, options)
  return async ({ batch: { topic, partition, messages }, resolveOffset, heartbeat, isRunning, isStale }) => {
    for (const message of messages) {
      if (!isRunning() || isStale()) return
      await each({ topic, partition, message })
      resolveOffset(message.offset)
      await heartbeat()
    }
  }
}

function commit(consumer: KafkaJsConsumer, topic: string, partition: number, offset: string) {
  // Kafka's committed offset is the next record to read.
  return consumer.commitOffsets([{ topic, partition, offset: String(BigInt(offset) + 1n) }])
}
