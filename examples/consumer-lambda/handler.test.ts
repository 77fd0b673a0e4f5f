import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { KafkaBatchResponse, LambdaKafkaEvent } from '@factlib/consume/lambda'
import { beforeAll, describe, expect, test } from 'vitest'
import { relayEnv, runCli } from '../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  withClient,
} from '../../test/harness/index.js'
import { createTopics, readRawTopic } from '../../test/harness/kafka-reader.js'
import { mskEvent } from '../../test/harness/lambda-events.js'
import { exampleDir, tempDir } from '../support.js'

type Handler<E, R> = (event: E) => Promise<R>
const build = (example: string, out: string) =>
  promisify(execFile)('npm', ['run', 'build', '--silent', '--', `--outfile=${out}`, '--log-level=warning'], {
    cwd: join(exampleDir, example),
  })

// The whole loop on real components: the order Lambda (examples/lambda) emits, `factlib relay --drain`
// moves the facts to Kafka, and this consumer Lambda is invoked with an MSK event built from the records
// actually in the topic.
const db = await freshDatabase('example_consumer')
const source = uniqueName('shop')
const topic = `${source}.order`
let placeOrder: Handler<{ body: string }, { statusCode: number }>
let consume: Handler<LambdaKafkaEvent, KafkaBatchResponse>

beforeAll(async () => {
  await withClient(db.url, async (client) => {
    await client.query(await readFile(join(exampleDir, 'schema.sql'), 'utf8'))
    await client.query(await readFile(join(exampleDir, 'consumer-lambda/schema.sql'), 'utf8'))
    await client.query(await readFile(join(exampleDir, '../packages/consume/inbox.sql'), 'utf8'))
  })
  // The bundles `npm run build` makes for upload, loaded as Lambda's Node.js runtime loads them.
  const dir = await tempDir()
  await Promise.all([
    build('lambda', join(dir, 'order.mjs')),
    build('consumer-lambda', join(dir, 'consumer.mjs')),
  ])
  process.env.DATABASE_URL = db.url
  process.env.FACTLIB_SOURCE = source
  placeOrder = (await import(join(dir, 'order.mjs'))).handler
  consume = (await import(join(dir, 'consumer.mjs'))).handler
})

const totals = () =>
  withClient(db.url, async (client) => {
    const { rows } = await client.query<{ orders: number; revenue: string }>(
      'select orders, revenue from order_totals',
    )
    const inbox = await client.query<{ n: number }>('select count(*)::int as n from factlib_inbox')
    return { days: rows, inbox: inbox.rows[0]?.n }
  })

describe.skipIf(kafkaUnavailable())('the consumer Lambda example', () => {
  test('emit → relay → Kafka → consumer keeps the projection; the same event again changes nothing', async () => {
    // `factlib setup` makes the slot first: facts committed before it exists are not in it.
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    const setup = await runCli(['setup'], { env })
    expect(setup.code, setup.stderr).toBe(0)
    for (const [id, total] of [
      ['o-1', 9.5],
      ['o-2', 12],
      ['o-3', 0.5],
    ] as const)
      expect((await placeOrder({ body: JSON.stringify({ id, total }) })).statusCode).toBe(201)
    // Made before the relay writes to it, as in production: a topic the relay creates itself takes a
    // moment to reach every broker's metadata.
    await createTopics(kafkaBrokers(), [topic], 3)
    const drained = await runCli(['relay', '--drain'], { env })
    expect(drained.code, drained.stderr).toBe(0)

    const event = mskEvent(await readRawTopic(kafkaBrokers(), topic))
    expect(Object.values(event.records).flat()).toHaveLength(3)
    expect(await consume(event)).toEqual({ batchItemFailures: [] })
    const once = await totals()
    expect(once).toEqual({ days: [{ orders: 3, revenue: '22.00' }], inbox: 3 })

    // Lambda retries a batch, a rebalance or a relay restart delivers it again: every effect stays once.
    expect(await consume(event)).toEqual({ batchItemFailures: [] })
    expect(await totals()).toEqual(once)
  })
})
