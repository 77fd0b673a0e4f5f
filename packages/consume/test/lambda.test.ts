import type { MSKEvent } from 'aws-lambda'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { kafkaUnavailable } from '../../../test/harness/index.js'
import { createInbox } from '../src/index.js'
import { kafkaHandler } from '../src/lambda.js'
import {
  consumerDatabase,
  effects,
  expectAggregateOrder,
  inboxEffect,
  inboxRows,
  interleaved,
  kafka,
  mskEvent,
  type RawRecord,
  readRaw,
  relayFacts,
  relayMore,
  selfManagedEvent,
} from './support/relay-facts.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** The lines a spied console method printed, parsed. */
const lines = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>)

/** The partition holding the most records, its records in offset order, and its second record (with its fact id). */
function busiest(raw: RawRecord[]) {
  const counts = new Map<number, RawRecord[]>()
  for (const record of raw) counts.set(record.partition, [...(counts.get(record.partition) ?? []), record])
  const [partition, records] = [...counts].sort((a, b) => b[1].length - a[1].length)[0] ?? [0, []]
  // The failure tests poison the second: one record of the partition is handled before it.
  const failing = records[1]
  if (!failing) throw new Error(`partition ${partition} holds fewer than 2 records`)
  return { partition, records, failing, failingId: failing.message.headers?.ce_id?.toString() ?? '' }
}

/** The event Lambda sends next after a partial batch response: the failed partition from the failed offset on. */
function retryOf(event: MSKEvent, partition: string, offset: number): MSKEvent {
  return {
    ...event,
    records: { [partition]: (event.records[partition] ?? []).filter((record) => record.offset >= offset) },
  }
}

describe.skipIf(kafkaUnavailable())('kafkaHandler with the real relay, Kafka and PostgreSQL', () => {
  test('the same MSK and self-managed events delivered again: every effect once, one inbox row per fact', async () => {
    const { client } = await consumerDatabase()
    const relayed = await relayFacts(interleaved(30, 6))
    const raw = await readRaw(relayed.topic)
    expect(raw).toHaveLength(30)
    const inbox = createInbox({ consumer: 'a' })
    const handler = kafkaHandler(inboxEffect(client, inbox, new Set()))
    for (const event of [mskEvent(raw), mskEvent(raw), selfManagedEvent(raw), selfManagedEvent(raw)])
      expect(await handler(event)).toEqual({ batchItemFailures: [] })
    const order = await effects(client)
    expect(order.map((row) => row.factId).sort()).toEqual(relayed.emitted.map((fact) => fact.id).sort())
    expect(await inboxRows(client, 'a')).toBe(30)
    expectAggregateOrder(order, relayed.emitted)
    await client.end()
  })

  test('a failing fact stops its partition, the others go on, the invocation fails; the retry handles the rest once, in order', async () => {
    const { client } = await consumerDatabase()
    const relayed = await relayFacts(interleaved(30, 6))
    const raw = await readRaw(relayed.topic)
    const { partition, records, failing, failingId: poisonId } = busiest(raw)
    const poison = new Set([poisonId])
    const inbox = createInbox({ consumer: 'a' })
    const handler = kafkaHandler(inboxEffect(client, inbox, poison))
    const event = mskEvent(raw)
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})

    const failed = handler(event)
    await expect(failed).rejects.toMatchObject({
      name: 'FactlibError',
      code: 'BATCH_FAILED',
      message: expect.stringContaining(`${relayed.topic}-${partition}@${failing.message.offset}`),
      cause: expect.objectContaining({ message: `handler fails on fact ${poisonId}` }),
    })
    expect(lines(errors)).toEqual([
      expect.objectContaining({
        level: 'error',
        topic: relayed.topic,
        partition,
        offset: failing.message.offset,
        code: 'HANDLER_FAILED',
      }),
    ])
    // Partition P up to the failing fact, every other partition whole; nothing of the failing fact stays.
    const stopped = new Set(
      records
        .filter((record) => Number(record.message.offset) >= Number(failing.message.offset))
        .map((r) => r.message.headers?.ce_id?.toString()),
    )
    const first = await effects(client)
    expect(first.map((row) => row.factId).sort()).toEqual(
      relayed.emitted
        .map((fact) => fact.id)
        .filter((id) => !stopped.has(id))
        .sort(),
    )
    expect(await inboxRows(client, 'a')).toBe(30 - stopped.size)

    // Fixed, Lambda retries the whole batch: the rest once, each aggregate in emit order.
    poison.clear()
    expect(await handler(event)).toEqual({ batchItemFailures: [] })
    const all = await effects(client)
    expect(all).toHaveLength(30)
    expect(new Set(all.map((row) => row.factId)).size).toBe(30)
    expect(await inboxRows(client, 'a')).toBe(30)
    expectAggregateOrder(all, relayed.emitted)
    await client.end()
  })

  test('with reportBatchItemFailures the response names the failed partition from its failed record on; the retry handles the rest', async () => {
    const { client } = await consumerDatabase()
    const relayed = await relayFacts(interleaved(24, 6))
    const raw = await readRaw(relayed.topic)
    const { partition, records, failing, failingId } = busiest(raw)
    const poison = new Set([failingId])
    const handler = kafkaHandler(inboxEffect(client, createInbox({ consumer: 'a' }), poison), {
      reportBatchItemFailures: true,
    })
    const event = selfManagedEvent(raw)
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const key = `${relayed.topic}-${partition}`
    // The failed record and every later one of its partition, none of them handled: right whether Lambda
    // resumes from the lowest offset named or retries exactly the records named.
    expect(await handler(event)).toEqual({
      batchItemFailures: records.slice(1).map((record) => ({
        itemIdentifier: { partition: key, offset: Number(record.message.offset) },
      })),
    })
    expect(await effects(client)).toHaveLength(24 - (records.length - 1))

    poison.clear()
    const retry = retryOf(event as unknown as MSKEvent, key, Number(failing.message.offset))
    expect(await handler(retry)).toEqual({ batchItemFailures: [] })
    const all = await effects(client)
    expect(all).toHaveLength(24)
    expect(await inboxRows(client, 'a')).toBe(24)
    expectAggregateOrder(all, relayed.emitted)
    await client.end()
  })

  test('a record that is not a fact fails its partition by default, or is skipped with a warning', async () => {
    const { client } = await consumerDatabase()
    const relayed = await relayFacts([{ aggregateId: 'k', type: 'item.created', data: 1 }])
    const [first] = await readRaw(relayed.topic)
    if (!first) throw new Error('no record')
    // Another producer's record, in the aggregate's partition, between two of its facts.
    const producer = kafka().producer()
    await producer.connect()
    await producer.send({
      topic: relayed.topic,
      messages: [
        { partition: first.partition, key: 'k', value: 'not a fact', headers: { origin: 'legacy' } },
      ],
    })
    await producer.disconnect()
    const later = await relayMore(relayed, [{ aggregateId: 'k', type: 'item.changed', data: 2 }])
    const raw = await readRaw(relayed.topic)
    expect(raw.map((record) => record.partition)).toEqual([first.partition, first.partition, first.partition])
    const notAFact = raw[1]
    if (!notAFact) throw new Error('no record')

    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const strict = kafkaHandler(inboxEffect(client, createInbox({ consumer: 'a' }), new Set()))
    await expect(strict(mskEvent(raw))).rejects.toMatchObject({ code: 'BATCH_FAILED' })
    expect(lines(errors)).toEqual([
      expect.objectContaining({
        partition: first.partition,
        offset: notAFact.message.offset,
        code: 'NOT_A_FACT',
      }),
    ])
    expect((await effects(client, 'a')).map((row) => row.factId)).toEqual([relayed.emitted[0]?.id])

    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const lenient = kafkaHandler(inboxEffect(client, createInbox({ consumer: 'b' }), new Set()), {
      notAFact: 'skip',
    })
    expect(await lenient(mskEvent(raw))).toEqual({ batchItemFailures: [] })
    expect(lines(warnings)).toEqual([
      // One shape for every helper: offsets are decimal strings, as in a Fact.
      expect.objectContaining({ level: 'warn', offset: notAFact.message.offset, code: 'NOT_A_FACT' }),
    ])
    expect((await effects(client, 'b')).map((row) => row.factId)).toEqual([
      relayed.emitted[0]?.id,
      later[0]?.id,
    ])
    await client.end()
  })
})
