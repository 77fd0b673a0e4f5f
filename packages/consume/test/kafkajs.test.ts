import { afterEach, describe, expect, test, vi } from 'vitest'
import { kafkaUnavailable, uniqueName, waitFor } from '../../../test/harness/index.js'
import { createInbox, type Fact } from '../src/index.js'
import { eachBatch, eachMessage } from '../src/kafkajs.js'
import {
  consumerDatabase,
  effects,
  expectAggregateOrder,
  inboxEffect,
  inboxRows,
  interleaved,
  kafka,
  readRaw,
  relayFacts,
} from './support/relay-facts.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** The group's committed offset of each partition of `topic` (-1: none), and the topic's high watermarks. */
async function offsets(groupId: string, topic: string) {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const high = await admin.fetchTopicOffsets(topic)
    return {
      committed: new Map(committed?.partitions.map((each) => [each.partition, Number(each.offset)])),
      high: new Map(high.map((each) => [each.partition, Number(each.high)])),
    }
  } finally {
    await admin.disconnect()
  }
}

const allCommitted = async (groupId: string, topic: string) => {
  const { committed, high } = await offsets(groupId, topic)
  // An empty partition has nothing to commit.
  return [...high].every(([partition, end]) => end === 0 || committed.get(partition) === end)
}

describe.skipIf(kafkaUnavailable())(
  'kafkajs consumer helpers with the real relay, Kafka and PostgreSQL',
  () => {
    test('eachMessage commits an offset only after the inbox transaction: a failing fact stays uncommitted and is handled once after a restart', async () => {
      const { client } = await consumerDatabase()
      const relayed = await relayFacts(interleaved(12, 4))
      const raw = await readRaw(relayed.topic)
      const failing = raw.find((record, index) => index > 0 && raw[index - 1]?.partition === record.partition)
      const lost = raw.find((record) => record.partition !== failing?.partition)
      if (!failing || !lost) throw new Error('the facts did not spread over two partitions')
      const id = (record: typeof failing) => record.message.headers?.ce_id?.toString() ?? ''
      const groupId = uniqueName('group')
      const poison = new Set([id(failing)])
      const effect = inboxEffect(client, createInbox({ consumer: 'a' }), poison)
      const attempts = new Map<string, number>()
      // Where the group stood when each fact's handler started: never past the fact.
      const committedAtStart: Array<{ partition: number; offset: number; committed: number }> = []
      const handle = async (fact: Fact) => {
        attempts.set(fact.id, (attempts.get(fact.id) ?? 0) + 1)
        const committed = (await offsets(groupId, relayed.topic)).committed.get(fact.partition) ?? -1
        committedAtStart.push({ partition: fact.partition, offset: Number(fact.offset), committed })
        await effect(fact)
      }
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
      await waitFor('the failing fact to be delivered again', () => (attempts.get(id(failing)) ?? 0) >= 2, {
        timeoutMs: 30_000,
      })
      await first.consumer.disconnect()
      const stopped = await offsets(groupId, relayed.topic)
      expect(stopped.committed.get(failing.partition)).toBe(Number(failing.message.offset))
      expect((await effects(client)).map((row) => row.factId)).not.toContain(id(failing))

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
      expect(attempts.get(id(lost))).toBeGreaterThanOrEqual(2)
      const all = await effects(client)
      expect(all).toHaveLength(12)
      expect(new Set(all.map((row) => row.factId)).size).toBe(12)
      expect(await inboxRows(client, 'a')).toBe(12)
      expectAggregateOrder(all, relayed.emitted)
      for (const { partition, offset, committed } of committedAtStart)
        expect(
          committed,
          `committed offset of partition ${partition} when offset ${offset} started`,
        ).toBeLessThanOrEqual(offset)
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
  },
)
