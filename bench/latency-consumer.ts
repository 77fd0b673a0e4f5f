// Notes when each record of a topic arrived, by its `factlib-lsn` (its transaction's commit LSN), in
// wall-clock ms comparable across processes. Prints `ready` once in its group (its own: it is just killed);
// on `dump` on stdin, `<commit lsn> <arrival ms>` lines since the last dump, then `dumped <count>`.
//
//   npx tsx bench/latency-consumer.ts <brokers> <topic>
import { createInterface } from 'node:readline'
import { Kafka, logLevel } from 'kafkajs'

const [brokers = '', topic = ''] = process.argv.slice(2)
let arrived: string[] = []
const clientId = 'factlib-bench-consumer'
const kafka = new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.WARN })
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
