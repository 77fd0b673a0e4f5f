// Reads a topic from the beginning and notes when each record arrived (by its `factlib-lsn`: the commit
// LSN of its transaction). Prints `ready` once it has joined its group; on a `dump` line on stdin it prints
// `<commit lsn> <arrival ms>` lines for what arrived since the previous dump, then `dumped <count>`.
// Arrivals are wall-clock milliseconds with sub-millisecond precision, comparable across processes. Its group
// is its own, so it is simply killed when done.
//
//   npx tsx bench/latency-consumer.ts <brokers> <topic>
import { createInterface } from 'node:readline'
import { Kafka, logLevel } from 'kafkajs'

const [brokers = '', topic = ''] = process.argv.slice(2)
let arrived: string[] = []
const kafka = new Kafka({
  clientId: 'factlib-bench-consumer',
  brokers: brokers.split(','),
  logLevel: logLevel.WARN,
})
const consumer = kafka.consumer({
  groupId: `factlib-bench-${process.pid}-${Date.now()}`,
  // The broker answers a fetch as soon as one byte is there; this only bounds an idle fetch.
  maxWaitTimeInMs: 100,
  minBytes: 1,
})
consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('ready\n'))
await consumer.connect()
await consumer.subscribe({ topic, fromBeginning: true })
await consumer.run({
  eachBatch: async ({ batch }) => {
    const at = performance.timeOrigin + performance.now()
    for (const message of batch.messages) {
      const lsn = message.headers?.['factlib-lsn']
      if (lsn !== undefined) arrived.push(`${lsn.toString()} ${at}`)
    }
  },
})
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'dump') return
  process.stdout.write(`${arrived.map((arrival) => `${arrival}\n`).join('')}dumped ${arrived.length}\n`)
  arrived = []
})
