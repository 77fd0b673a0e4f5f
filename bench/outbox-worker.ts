// The polling worker of the outbox-table pattern as most libraries build it: in one transaction, lock the
// oldest rows (`FOR UPDATE SKIP LOCKED`), publish them to Kafka (acks=all, the relay's producer settings),
// delete them, commit; sleep `poll ms` when the table is empty. Prints `ready`, then on SIGTERM finishes
// its round and prints what it published as JSON.
//
//   npx tsx bench/outbox-worker.ts <database url> <brokers> <topic> [batch=500] [poll ms=100]
import pg from 'pg'
import { benchProducer } from './facts.js'

const [url, brokers, topic, batchText = '500', pollText = '100'] = process.argv.slice(2)
if (!url || !brokers || !topic) {
  process.stderr.write('usage: outbox-worker.ts <database url> <brokers> <topic> [batch] [poll ms]\n')
  process.exit(2)
}
const batch = Number(batchText)
const pollMs = Number(pollText)

const client = new pg.Client({ connectionString: url })
await client.connect()
const producer = benchProducer('factlib-bench-outbox', brokers)
await producer.connect()

let stopping = false
let published = 0
let rounds = 0
process.once('SIGTERM', () => {
  stopping = true
})
process.stdout.write('ready\n')

interface Row {
  id: string
  aggregate_type: string
  aggregate_id: string
  type: string
  payload: string
  created_at: Date
}

while (!stopping) {
  await client.query('begin')
  const { rows } = await client.query<Row>(
    `select id, aggregate_type, aggregate_id, type, payload::text as payload, created_at
       from outbox order by id limit $1 for update skip locked`,
    [batch],
  )
  if (rows.length === 0) {
    await client.query('commit')
    await new Promise((resolve) => setTimeout(resolve, pollMs))
    continue
  }
  await producer.sendBatch({
    acks: -1,
    timeout: 10_000,
    topicMessages: [
      {
        topic,
        messages: rows.map((row) => ({
          key: row.aggregate_id,
          value: row.payload,
          headers: {
            ce_specversion: '1.0',
            ce_id: row.id,
            ce_source: 'bench',
            ce_type: row.type,
            ce_time: row.created_at.toISOString(),
            ce_aggregatetype: row.aggregate_type,
            ce_aggregateid: row.aggregate_id,
            'content-type': 'application/json',
          },
        })),
      },
    ],
  })
  await client.query('delete from outbox where id = any($1::bigint[])', [rows.map((row) => row.id)])
  await client.query('commit')
  published += rows.length
  rounds += 1
}
process.stdout.write(`${JSON.stringify({ published, rounds })}\n`)
await producer.disconnect()
await client.end()
process.exit(0)
