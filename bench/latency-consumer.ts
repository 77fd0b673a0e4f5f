// Reads a topic from the beginning and notes when each record arrived (by its `factlib-lsn`: the commit
// LSN of its transaction). Prints `ready` once it has joined its group; on a `dump <file>` line on stdin it
// writes `<commit lsn> <arrival ms>` lines for what arrived since the previous dump and prints
// `dumped <count>`.
//
//   npx tsx bench/latency-consumer.ts <brokers> <topic>
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Kafka, logLevel } from 'kafkajs'
import { now } from './load.js'

const [brokers, topic] = process.argv.slice(2)
if (!brokers || !topic) {
  process.stderr.write('usage: latency-consumer.ts <brokers> <topic>\n')
  process.exit(2)
}
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
    const at = now()
    for (const message of batch.messages) {
      const lsn = message.headers?.['factlib-lsn']
      if (lsn !== undefined) arrived.push(`${lsn.toString()} ${at}`)
    }
  },
})
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, file] = line.split(' ')
  if (command === 'dump' && file) {
    const lines = arrived
    arrived = []
    writeFileSync(file, lines.length ? `${lines.join('\n')}\n` : '')
    process.stdout.write(`dumped ${lines.length}\n`)
  } else if (command === 'exit') void consumer.disconnect().then(() => process.exit(0))
})
