import { Admin, Consumer } from '@platformatic/kafka'
import { type IHeaders, Kafka, type KafkaConfig as KafkaJsConfig, type KafkaMessage, logLevel } from 'kafkajs'
import { uniqueName } from './names.js'
import { waitFor } from './wait.js'

/** A record as a consumer sees it: the one shape both readers below return. */
export interface Consumed {
  topic: string
  partition: number
  /** Kafka's int64 offset as a number: test topics stay far below 2^53. */
  offset: number
  key: string | null
  /** Null only for a tombstone, which the relay never writes. */
  value: Buffer | null
  headers: Record<string, string>
}

function consumed(topic: string, partition: number, message: KafkaMessage): Consumed {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key?.toString('utf8') ?? null,
    value: message.value,
    headers: headersOf(message.headers),
  }
}

/**
 * Reads whole topics from the beginning into `records` as they arrive, for assertions while a relay runs.
 * Waits for the topics to exist first: under KRaft a consumer of a missing topic fails, and the relay
 * creates its topics itself.
 */
export async function readTopics(brokers: string[], topics: string[]) {
  const kafka = new Kafka({ clientId: 'relay-test-reader', brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await waitFor(`topics ${topics.join(', ')} to exist`, async () => {
    const existing = new Set(await admin.listTopics())
    return topics.every((topic) => existing.has(topic))
  })
  await admin.disconnect()
  const records: Consumed[] = []
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topics, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      records.push(consumed(topic, partition, message))
    },
  })
  return {
    records,
    /** Wait until `check(records)` holds. */
    until: (what: string, check: (records: Consumed[]) => boolean, timeoutMs = 60_000) =>
      waitFor(what, () => check(records), { timeoutMs, intervalMs: 100 }),
    stop: () => consumer.disconnect(),
  }
}

/** A kafkajs `eachMessage` payload as read: topic, partition and the raw message. */
export interface RawRecord {
  topic: string
  partition: number
  message: KafkaMessage
}

/**
 * Every record in one topic now, raw as kafkajs gives them: reads until as many as the partitions' high
 * watermarks count (so duplicates and extras show), in partition order by offset. `client` reaches a broker
 * with TLS or SASL.
 */
export async function readRawTopic(
  brokers: string[],
  topic: string,
  client: Partial<KafkaJsConfig> = {},
): Promise<RawRecord[]> {
  const kafka = new Kafka({ clientId: 'relay-test-reader', brokers, logLevel: logLevel.NOTHING, ...client })
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const total = offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0)
  const records: RawRecord[] = []
  if (total === 0) return records
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ topic, partition, message })
      },
    })
    await waitFor(`${total} records in ${topic}`, () => records.length >= total, { timeoutMs: 30_000 })
  } finally {
    await consumer.disconnect()
  }
  return records.sort(
    (a, b) => a.partition - b.partition || Number(a.message.offset) - Number(b.message.offset),
  )
}

/** {@link readRawTopic}, each record as a {@link Consumed}. */
export async function readTopic(
  brokers: string[],
  topic: string,
  client: Partial<KafkaJsConfig> = {},
): Promise<Consumed[]> {
  const raw = await readRawTopic(brokers, topic, client)
  return raw.map(({ partition, message }) => consumed(topic, partition, message))
}

/**
 * The first `count` records of a topic read with `@platformatic/kafka`'s consumer, which decodes every codec
 * (kafkajs decodes only gzip without plugins), in partition order by offset.
 */
export async function readTopicDecodingAll(
  brokers: string[],
  topic: string,
  count: number,
): Promise<Consumed[]> {
  const consumer = new Consumer({
    clientId: 'relay-test-reader',
    groupId: uniqueName('reader'),
    bootstrapBrokers: brokers,
  })
  const records: Consumed[] = []
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 100,
    })
    const reading = (async () => {
      for await (const message of stream) {
        const headers: Record<string, string> = {}
        for (const [name, value] of message.headers) headers[name.toString('utf8')] = value.toString('utf8')
        records.push({
          topic,
          partition: message.partition,
          offset: Number(message.offset),
          key: message.key?.length ? message.key.toString('utf8') : null,
          value: message.value,
          headers,
        })
        if (records.length >= count) break
      }
    })()
    await waitFor(`${count} records in ${topic}`, () => records.length >= count, { timeoutMs: 30_000 })
    await stream.close()
    await reading
  } finally {
    await consumer.close(true)
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

/** Bytes the broker stores for a topic's partitions: its log size, after compression. */
export async function storedBytes(brokers: string[], topic: string, partitions = 1): Promise<number> {
  const admin = new Admin({ clientId: 'relay-test-admin', bootstrapBrokers: brokers })
  try {
    const dirs = await admin.describeLogDirs({
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, index) => index) }],
    })
    let bytes = 0n
    for (const { results } of dirs)
      for (const result of results)
        for (const stored of result.topics)
          for (const partition of stored.partitions) bytes += partition.partitionSize
    return Number(bytes)
  } finally {
    await admin.close()
  }
}

/** The value as text; a tombstone reads as `<null>`. */
export function valueText(record: Consumed): string {
  return record.value === null ? '<null>' : record.value.toString('utf8')
}

/** Values per key in log order (the order a consumer of one partition sees). */
export function valuesByKey(records: Consumed[]): Map<string | null, string[]> {
  const byKey = new Map<string | null, string[]>()
  for (const record of records) {
    const values = byKey.get(record.key) ?? []
    values.push(valueText(record))
    byKey.set(record.key, values)
  }
  return byKey
}

/** Consumers deduplicate on `ce_id`: the first occurrence of each. */
export function deduplicated(records: Consumed[]): Consumed[] {
  const seen = new Set<string>()
  return records.filter((record) => {
    const id = record.headers.ce_id ?? ''
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

export function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {}))
    if (value !== undefined) result[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
  return result
}

/** Create the topics that do not exist yet (3 partitions) so a test can subscribe before the relay writes. */
export async function createTopics(brokers: string[], topics: string[], numPartitions = 3): Promise<void> {
  const admin = new Kafka({ clientId: 'relay-test-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    // kafkajs waits for no leader at all once one of the topics exists: ask only for the missing ones.
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((topic) => !existing.has(topic))
    if (missing.length)
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions })),
        waitForLeaders: true,
      })
  } finally {
    await admin.disconnect()
  }
}

/** The number of records in a topic: the sum of its partitions' high watermarks (no compaction here). */
export async function totalRecords(brokers: string[], topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'relay-test-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0)
}
