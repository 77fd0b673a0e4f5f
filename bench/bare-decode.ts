// The ceiling's second reader: pg-logical-replication decoding pgoutput with nothing else to do. It counts
// messages and confirms each commit (once per turn of the event loop, as the relay does) until it has
// seen the commit past `end`, then prints what it counted as JSON and exits.
//
//   npx tsx bench/bare-decode.ts <database url> <slot> <publication> <end lsn>
import { formatLsn, parseLsn } from '@factlib/relay'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'

const [url, slot, publication, endText] = process.argv.slice(2)
if (!url || !slot || !publication || !endText) {
  process.stderr.write('usage: bare-decode.ts <database url> <slot> <publication> <end lsn>\n')
  process.exit(2)
}
const end = parseLsn(endText)
const service = new LogicalReplicationService(
  { connectionString: url },
  { acknowledge: { auto: false, timeoutSeconds: 0 } },
)
const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true })
let messages = 0
let commits = 0
let last = 0n
let pending = false
let finished = false

const confirm = () => service.acknowledge(formatLsn(last - 1n))

service.on('data', (_lsn: string, message: { tag: string; commitEndLsn?: string }) => {
  if (message.tag === 'message') messages += 1
  else if (message.tag === 'commit') {
    commits += 1
    last = parseLsn(message.commitEndLsn as string)
    if (last > end && !finished) {
      finished = true
      void confirm().then(async () => {
        process.stdout.write(`${JSON.stringify({ messages, commits })}\n`)
        await service.destroy()
        process.exit(0)
      })
      return
    }
    if (!pending) {
      pending = true
      setImmediate(() => {
        pending = false
        void confirm()
      })
    }
  }
})
service.on('heartbeat', (_lsn: string, _time: number, shouldRespond: boolean) => {
  if (shouldRespond && last > 0n) void confirm()
})
service.on('start', () => {
  process.stdout.write('streaming\n')
})
service.on('error', (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
await service.subscribe(plugin, slot, '0/0')
