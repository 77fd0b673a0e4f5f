// The polling worker of the outbox-table pattern as most libraries build it: in one transaction, lock the
// oldest rows (`FOR UPDATE SKIP LOCKED`), publish them to Kafka (the relay's producer settings), delete them,
// commit; sleep 100 ms when the table is empty. Prints `ready`; it runs until it is killed.
//
//   npx tsx bench/outbox-worker.ts <database url> <brokers> <topic>
import pg from 'pg'
import { benchProducer } from './facts.js'

const [url, brokers = '', topic = ''] = process.argv.slice(2)
const client = new pg.Client({ connectionString: url })
await client.connect()
const producer = await benchProducer('factlib-bench-outbox', brokers)
await producer.connect()
type Row = Record<'id' | 'aggregate_type' | 'aggregate_id' | 'type' | 'payload', string> & {
  created_at: Date
}
process.stdout.write('ready\n')

for (;;) {
  await client.query('begin')
  const { rows } = await client.query<Row>(
    `select id, aggregate_type, aggregate_id, type, payload::text as payload, created_at
       from outbox order by id limit 500 for update skip locked`,
  )
  if (rows.length > 0) {
    const messages = rows.map((row) => ({
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
    }))
    await producer.sendBatch({ acks: -1, timeout: 10_000, topicMessages: [{ topic, messages }] })
    await client.query('delete from outbox where id = any($1::bigint[])', [rows.map((row) => row.id)])
  }
  await client.query('commit')
  if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 100))
}
