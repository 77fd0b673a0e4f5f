import { type IHeaders, Kafka, logLevel } from 'kafkajs'
import { uniqueName } from '../../../../test/harness/names.js'
import { waitFor } from '../../../../test/harness/wait.js'

/** A record as a consumer sees it. */
export interface Consumed {
  topic: string
  partition: number
  offset: number
  key: string | null
  value: Buffer | null
  headers: Record<string, string>
}

/**
 * Reads whole topics from the beginning into `records`, for assertions. Waits for the topics to exist
 * first: under KRaft a consumer of a missing topic fails, and the relay creates its topics itself.
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
      records.push({
        topic,
        partition,
        offset: Number(message.offset),
        key: message.key?.toString('utf8') ?? null,
        value: message.value,
        headers: headersOf(message.headers),
      })
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

export function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {}))
    if (value !== undefined) result[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
  return result
}

/** Create topics (3 partitions) so a test can subscribe before the relay writes. */
export async function createTopics(brokers: string[], topics: string[], numPartitions = 3): Promise<void> {
  const admin = new Kafka({ clientId: 'relay-test-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions })),
    waitForLeaders: true,
  })
  await admin.disconnect()
}

/** The number of records in a topic: the sum of its partitions' high watermarks (no compaction here). */
export async function totalRecords(brokers: string[], topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'relay-test-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0)
}
