import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres } from '@factlib/dev/embedded-postgres'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, test } from 'vitest'
import { freshDatabase, kafkaBrokers, kafkaUnavailable, uniqueName, waitFor, withClient } from './index.js'
import { kafkaClusterId } from './kafka.js'
import { createWalReader } from './wal.js'

describe('PostgreSQL', () => {
  test('runs with wal_level=logical and UTF8', async () => {
    const db = await freshDatabase()
    const settings = await withClient(db.url, (client) =>
      client.query<{ wal_level: string; encoding: string }>(
        `select current_setting('wal_level') as wal_level, pg_encoding_to_char(encoding) as encoding
           from pg_database where datname = current_database()`,
      ),
    )
    expect(settings.rows[0]).toEqual({ wal_level: 'logical', encoding: 'UTF8' })
  })

  test('a committed pg_logical_emit_message reaches a pgoutput slot; a rolled-back one does not', async () => {
    const db = await freshDatabase()
    const wal = await createWalReader(db.url)
    await withClient(db.url, async (client) => {
      await client.query('begin')
      await client.query(`select pg_logical_emit_message(true, 'harness', 'rolled back')`)
      await client.query('rollback')
      await client.query('begin')
      await client.query(`select pg_logical_emit_message(true, 'harness', 'committed')`)
      await client.query('commit')
    })
    const messages = await wal.messages()
    expect(
      messages.map((message) => [message.prefix, message.content.toString(), message.transactional]),
    ).toEqual([['harness', 'committed', true]])
    expect(messages[0]?.commitEndLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
    await wal.drop()
  })
})

// As root the server runs as `postgres`; only then can a folder be closed to it.
describe.runIf(userInfo().uid === 0)('PostgreSQL as root', () => {
  test('a data directory the postgres user cannot reach is refused, naming the folder and the fix', async () => {
    const closed = await mkdtemp(join(tmpdir(), 'factlib-closed-')) // mkdtemp makes it 0700
    try {
      await mkdir(join(closed, 'project'))
      const started = startEmbeddedPostgres({ dataDir: join(closed, 'project', '.factlib', 'pg') })
      await expect(started).rejects.toMatchObject({ code: 'EMBEDDED_POSTGRES_START' })
      await expect(started).rejects.toThrow(`chmod o+x ${closed}`)
    } finally {
      await rm(closed, { recursive: true, force: true })
    }
  })
})

test('Kafka cluster IDs never start with "-", which the storage tool would take for an option', () => {
  const ids = Array.from({ length: 2000 }, kafkaClusterId)
  expect(ids.filter((id) => id.startsWith('-'))).toEqual([])
  expect(new Set(ids.map((id) => id.length))).toEqual(new Set([22]))
})

describe.skipIf(kafkaUnavailable())('Kafka', () => {
  const kafka = () =>
    new Kafka({ clientId: 'harness-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })

  test('does not create topics on its own, as Amazon MSK by default', async () => {
    const admin = kafka().admin()
    await admin.connect()
    const cluster = await admin.describeCluster()
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: 4,
          name: String(cluster.controller ?? cluster.brokers[0]?.nodeId),
          configNames: ['auto.create.topics.enable'],
        },
      ],
    })
    await admin.disconnect()
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('false')
  })

  test('a record produced with kafkajs is consumed back', async () => {
    const topic = uniqueName('topic')
    const client = kafka()
    const admin = client.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
    await admin.disconnect()

    const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'hello', headers: { h: 'v' } }] })
    await producer.disconnect()

    const received: Array<{ key: string; value: string; header: string }> = []
    const consumer = client.consumer({ groupId: uniqueName('group') })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: String(message.key),
          value: String(message.value),
          header: String(message.headers?.h),
        })
      },
    })
    await waitFor('the record to be consumed', () => received.length > 0)
    await consumer.disconnect()
    expect(received).toEqual([{ key: 'k', value: 'hello', header: 'v' }])
  })
})
