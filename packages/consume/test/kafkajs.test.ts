import { afterEach, describe, expect, test, vi } from 'vitest'
import { kafkaUnavailable, uniqueName, waitFor } from '../../../test/harness/index.js'
import { createInbox } from '../src/index.js'
import { eachBatch, eachMessage } from '../src/kafkajs.js'
import {
  allCommitted,
  commitScenario,
  consumerDatabase,
  effects,
  expectAggregateOrder,
  expectHandledOnce,
  idOf,
  inboxEffect,
  inboxRows,
  interleaved,
  kafka,
  offsets,
  relayFacts,
} from './support/relay-facts.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe.skipIf(kafkaUnavailable())(
  'kafkajs consumer helpers with the real relay, Kafka and PostgreSQL',
  () => {
    test('eachMessage commits an offset only after the inbox transaction: a failing fact stays uncommitted and is handled once after a restart', async () => {
      const scenario = await commitScenario()
      const { client, relayed, raw, failing, groupId, poison, handle, attempts } = scenario
      const lost = raw.find((record) => record.partition !== failing.partition)
      if (!lost) throw new Error('the facts did not spread over two partitions')
      // A crash between the inbox commit and the offset commit, once: the fact comes again, the inbox skips it.
      let crashOnce = true
      const start = () => {
        const consumer = kafka().consumer({
          groupId,
          maxWaitTimeInMs: 100,
          retry: { initialRetryTime: 50, retries: 1 },
        })
        const committer = {
          commitOffsets: async (list: Array<{ topic: string; partition: number; offset: string }>) => {
            if (
              crashOnce &&
              list[0]?.partition === lost.partition &&
              list[0].offset === String(Number(lost.message.offset) + 1)
            ) {
              crashOnce = false
              throw new Error('crashed before the offset commit')
            }
            await consumer.commitOffsets(list)
          },
        }
        return { consumer, committer }
      }

      const first = start()
      await first.consumer.connect()
      await first.consumer.subscribe({ topic: relayed.topic, fromBeginning: true })
      await first.consumer.run({ autoCommit: false, eachMessage: eachMessage(first.committer, handle) })
      await waitFor('the failing fact to be delivered again', () => (attempts.get(idOf(failing)) ?? 0) >= 2, {
        timeoutMs: 30_000,
      })
      await first.consumer.disconnect()
      const stopped = await offsets(groupId, relayed.topic)
      expect(stopped.committed.get(failing.partition)).toBe(Number(failing.message.offset))
      expect((await effects(client)).map((row) => row.factId)).not.toContain(idOf(failing))

      poison.clear()
      const second = start()
      await second.consumer.connect()
      await second.consumer.subscribe({ topic: relayed.topic, fromBeginning: true })
      await second.consumer.run({ autoCommit: false, eachMessage: eachMessage(second.committer, handle) })
      await waitFor('every offset committed', () => allCommitted(groupId, relayed.topic), {
        timeoutMs: 30_000,
      })
      await second.consumer.disconnect()

      expect(crashOnce).toBe(false)
      expect(attempts.get(idOf(lost))).toBeGreaterThanOrEqual(2)
      await expectHandledOnce(scenario)
      await client.end()
    })

    test('eachBatch handles each batch in order and commits every offset', async () => {
      const { client } = await consumerDatabase()
      const relayed = await relayFacts(interleaved(12, 4))
      const groupId = uniqueName('group')
      const consumer = kafka().consumer({ groupId, maxWaitTimeInMs: 100 })
      await consumer.connect()
      await consumer.subscribe({ topic: relayed.topic, fromBeginning: true })
      const effect = inboxEffect(client, createInbox({ consumer: 'b' }), new Set())
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: eachBatch(consumer, effect),
      })
      await waitFor('every offset committed', () => allCommitted(groupId, relayed.topic), {
        timeoutMs: 30_000,
      })
      await consumer.disconnect()
      const all = await effects(client, 'b')
      expect(all).toHaveLength(12)
      expect(await inboxRows(client, 'b')).toBe(12)
      expectAggregateOrder(all, relayed.emitted)
      await client.end()
    })

    test('eachBatch: a failing fact mid-batch stays uncommitted with the rest of its partition, and after a restart each fact is handled once', async () => {
      const scenario = await commitScenario()
      const { client, relayed, failing, groupId, poison, handle, attempts } = scenario
      const run = async () => {
        const consumer = kafka().consumer({
          groupId,
          maxWaitTimeInMs: 100,
          retry: { initialRetryTime: 50, retries: 1 },
        })
        await consumer.connect()
        await consumer.subscribe({ topic: relayed.topic, fromBeginning: true })
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: eachBatch(consumer, handle),
        })
        return consumer
      }
      const first = await run()
      await waitFor('the failing fact to be delivered again', () => (attempts.get(idOf(failing)) ?? 0) >= 2, {
        timeoutMs: 30_000,
      })
      await first.disconnect()
      const stopped = await offsets(groupId, relayed.topic)
      expect(stopped.committed.get(failing.partition)).toBe(Number(failing.message.offset))
      expect((await effects(client)).map((row) => row.factId)).not.toContain(idOf(failing))

      poison.clear()
      const second = await run()
      await waitFor('every offset committed', () => allCommitted(groupId, relayed.topic), {
        timeoutMs: 30_000,
      })
      await second.disconnect()
      await expectHandledOnce(scenario)
      await client.end()
    })
  },
)
