// Facts emitted with @factlib/emit, relayed by the real `factlib relay` to the real Kafka, and read back raw:
// as kafkajs payloads, as @platformatic/kafka messages and as the Lambda events AWS builds from them.
import { createServer, Socket } from 'node:net'
import { createEmitter, type Fact as EmittedFact, type FactInput } from '@factlib/emit'
import { type Message, Consumer as PlatformaticConsumer } from '@platformatic/kafka'
import { Kafka, logLevel } from 'kafkajs'
import pg from 'pg'
import { expect } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  type TestDatabase,
  uniqueName,
  waitFor,
} from '../../../../test/harness/index.js'
import {
  createTopics,
  type RawRecord,
  readRawTopic,
  totalRecords,
} from '../../../../test/harness/kafka-reader.js'
import { createInbox, type Fact, type Inbox, migrateInbox } from '../../src/index.js'

// The Lambda events built from the records in Kafka are the harness's, shared with the examples.
export { lambdaRecord, mskEvent, selfManagedEvent } from '../../../../test/harness/lambda-events.js'
export type { RawRecord }

/** Every record of `topic` on the run's broker, raw, by partition and offset. */
export const readRaw = (topic: string): Promise<RawRecord[]> => readRawTopic(kafkaBrokers(), topic)

export const kafka = () =>
  new Kafka({ clientId: 'consume-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })

/** A fresh database with the inbox and an `effects` table a handler writes one row per handled fact into. */
export async function consumerDatabase(): Promise<{ db: TestDatabase; client: pg.Client }> {
  const db = await freshDatabase('consume')
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  await migrateInbox(client)
  await client.query(
    'create table effects (seq bigserial primary key, fact_id text not null, aggregate_id text not null, consumer text not null default $$a$$)',
  )
  return { db, client }
}

/** Rows of `effects`, in the order they were written. */
export async function effects(
  client: pg.Client,
  consumer = 'a',
): Promise<Array<{ factId: string; aggregateId: string }>> {
  const { rows } = await client.query<{ fact_id: string; aggregate_id: string }>(
    'select fact_id, aggregate_id from effects where consumer = $1 order by seq',
    [consumer],
  )
  return rows.map((row) => ({ factId: row.fact_id, aggregateId: row.aggregate_id }))
}

/** The number of inbox rows of a consumer. */
export async function inboxRows(client: pg.Client, consumer: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    'select count(*)::int as n from factlib_inbox where consumer = $1',
    [consumer],
  )
  return rows[0]?.n ?? 0
}

export interface Relayed {
  source: string
  topic: string
  /** The facts as emitted, in emit order. */
  emitted: EmittedFact[]
  databaseUrl: string
  env: Record<string, string>
}

/**
 * Emit `inputs` (aggregate type `item` unless given) in one transaction of the database at `databaseUrl`
 * (a fresh one by default), run `factlib relay` until all of them are in the topic, stop it.
 */
export async function relayFacts(
  inputs: Array<Omit<FactInput, 'aggregateType'> & { aggregateType?: string }>,
  { partitions = 3 }: { partitions?: number } = {},
): Promise<Relayed> {
  const db = await freshDatabase('relay')
  const source = uniqueName('consume')
  const topic = `${source}.item`
  await createTopics(kafkaBrokers(), [topic], partitions)
  const env = relayEnv(db.url)
  const relay = startRelayProcess(env)
  await relay.waitForLog('streaming')
  const emitted = await emitFacts(db.url, source, inputs)
  await waitFor(
    `${emitted.length} facts in ${topic}`,
    async () => (await totalRecords(kafkaBrokers(), topic)) >= emitted.length,
    {
      timeoutMs: 30_000,
    },
  )
  expect(await relay.stop()).toBe(0)
  return { source, topic, emitted, databaseUrl: db.url, env }
}

export async function emitFacts(
  databaseUrl: string,
  source: string,
  inputs: Array<Omit<FactInput, 'aggregateType'> & { aggregateType?: string }>,
): Promise<EmittedFact[]> {
  const facts = createEmitter({ source })
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query('begin')
    const emitted = await facts.emit(
      client,
      inputs.map((input) => ({ aggregateType: 'item', ...input }) as FactInput),
    )
    await client.query('commit')
    return emitted
  } finally {
    await client.end()
  }
}

export const platformaticConsumer = (groupId = uniqueName('raw')) =>
  new PlatformaticConsumer({ clientId: 'consume-test', groupId, bootstrapBrokers: kafkaBrokers() })

/** The consumer's stream of `topic`, autocommit off, from the group's committed offsets (else the beginning). */
export const platformaticStream = (consumer: PlatformaticConsumer, topic: string) =>
  consumer.consume({
    topics: [topic],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
    maxWaitTime: 100,
  })

/** The first `count` records of `topic` as `@platformatic/kafka` messages, by partition and offset. */
export async function readPlatformatic(topic: string, count: number): Promise<Message[]> {
  const consumer = platformaticConsumer()
  const messages: Message[] = []
  try {
    const stream = await platformaticStream(consumer, topic)
    for await (const message of stream) if (messages.push(message) >= count) break
  } finally {
    await consumer.close(true)
  }
  return messages.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))
}

/**
 * A TCP proxy to PostgreSQL that, once {@link ConfirmationHold.hold} is called, still forwards what the
 * server sends but holds back everything the client sends: a relay behind it streams and publishes facts,
 * but its confirmations never reach the slot. Killed then, the relay's successor re-sends that window.
 */
export interface ConfirmationHold {
  port: number
  hold(): void
  close(): Promise<void>
}

export async function confirmationHold(target: number): Promise<ConfirmationHold> {
  let held = false
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = new Socket()
    sockets.add(client).add(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    upstream.connect(target, '127.0.0.1', () => {
      upstream.pipe(client)
      client.on('data', (chunk) => {
        if (!held) upstream.write(chunk)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port')
  return {
    port: address.port,
    hold() {
      held = true
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** Run the relay of `relayed` again to relay `inputs`, emitted into its database, then stop it. */
export async function relayMore(
  relayed: Relayed,
  inputs: Array<Omit<FactInput, 'aggregateType'> & { aggregateType?: string }>,
): Promise<EmittedFact[]> {
  const before = await totalRecords(kafkaBrokers(), relayed.topic)
  const relay = startRelayProcess(relayed.env)
  await relay.waitForLog('streaming')
  const emitted = await emitFacts(relayed.databaseUrl, relayed.source, inputs)
  await waitFor(
    `${emitted.length} more facts in ${relayed.topic}`,
    async () => (await totalRecords(kafkaBrokers(), relayed.topic)) >= before + emitted.length,
    { timeoutMs: 30_000 },
  )
  expect(await relay.stop()).toBe(0)
  return emitted
}

/** A handler that writes one `effects` row per fact through the inbox, and throws on the facts in `poison`. */
export function inboxEffect(client: pg.Client, inbox: Inbox, poison: Set<string>) {
  return (fact: Fact) =>
    inbox.handle(client, fact, async (fact, tx) => {
      await tx.query('insert into effects (fact_id, aggregate_id, consumer) values ($1, $2, $3)', [
        fact.id,
        fact.aggregateId,
        inbox.consumer,
      ])
      if (poison.has(fact.id)) throw new Error(`handler fails on fact ${fact.id}`)
    })
}

/** Facts of each aggregate in `order` keep the order they were emitted in. */
export function expectAggregateOrder(
  order: Array<{ factId: string; aggregateId: string }>,
  emitted: EmittedFact[],
) {
  for (const aggregate of new Set(emitted.map((fact) => fact.aggregateId)))
    expect(
      order.filter((row) => row.aggregateId === aggregate).map((row) => row.factId),
      `order of aggregate ${aggregate}`,
    ).toEqual(emitted.filter((fact) => fact.aggregateId === aggregate).map((fact) => fact.id))
}

/** `count` facts over `aggregates` aggregates, interleaved: fact i belongs to aggregate `a<i mod aggregates>`. */
export const interleaved = (count: number, aggregates: number) =>
  Array.from({ length: count }, (_, index) => ({
    aggregateId: `a${index % aggregates}`,
    type: 'item.changed',
    data: { index },
  }))

/** The group's committed offset of each partition of `topic` (-1: none), and the topic's high watermarks. */
export async function offsets(groupId: string, topic: string) {
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

export const allCommitted = async (groupId: string, topic: string) => {
  const { committed, high } = await offsets(groupId, topic)
  // An empty partition has nothing to commit.
  return [...high].every(([partition, end]) => end === 0 || committed.get(partition) === end)
}

/** The `ce_id` header of a raw record. */
export const idOf = (record: RawRecord) => record.message.headers?.ce_id?.toString() ?? ''

/**
 * A consumer database, 12 relayed facts of 4 aggregates, a fact that follows another in its partition
 * (`failing`), and a handler through the inbox of consumer `a` that fails on the facts in `poison` and
 * notes where the group's committed offset stood when each fact started (`starts`: never past the fact).
 */
export async function commitScenario() {
  const { client } = await consumerDatabase()
  const relayed = await relayFacts(interleaved(12, 4))
  const raw = await readRaw(relayed.topic)
  const failing = raw.find((record, index) => index > 0 && raw[index - 1]?.partition === record.partition)
  if (!failing) throw new Error('no partition holds two facts')
  const groupId = uniqueName('group')
  const poison = new Set([idOf(failing)])
  const effect = inboxEffect(client, createInbox({ consumer: 'a' }), poison)
  const starts: Array<{ partition: number; offset: number; committed: number }> = []
  const attempts = new Map<string, number>()
  const handle = async (fact: Fact) => {
    attempts.set(fact.id, (attempts.get(fact.id) ?? 0) + 1)
    const committed = (await offsets(groupId, relayed.topic)).committed.get(fact.partition) ?? -1
    starts.push({ partition: fact.partition, offset: Number(fact.offset), committed })
    await effect(fact)
  }
  return { client, relayed, raw, failing, groupId, poison, handle, starts, attempts }
}

/** After the restart: every fact's effect once, one inbox row each, aggregates in order, no offset committed early. */
export async function expectHandledOnce(scenario: Awaited<ReturnType<typeof commitScenario>>) {
  const all = await effects(scenario.client)
  expect(all).toHaveLength(12)
  expect(new Set(all.map((row) => row.factId)).size).toBe(12)
  expect(await inboxRows(scenario.client, 'a')).toBe(12)
  expectAggregateOrder(all, scenario.relayed.emitted)
  for (const { partition, offset, committed } of scenario.starts)
    expect(
      committed,
      `committed offset of partition ${partition} when offset ${offset} started`,
    ).toBeLessThanOrEqual(offset)
}
