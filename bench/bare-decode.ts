// The ceiling's second reader: the relay's own replication session (wal/stream.ts) decoding pgoutput with
// nothing else to do. It counts messages and confirms each commit (once per turn of the event loop, as the
// relay does) until it has seen the commit past `end`, then prints what it counted as JSON and exits.
//
//   npx tsx bench/bare-decode.ts <database url> <slot> <publication> <end lsn>
import { parseLsn, silentLogger } from '@factlib/relay'
import { ReplicationStream } from '../packages/relay/src/wal/stream.js'

const [url, slot, publication, endText] = process.argv.slice(2)
if (!url || !slot || !publication || !endText) {
  process.stderr.write('usage: bare-decode.ts <database url> <slot> <publication> <end lsn>\n')
  process.exit(2)
}
const end = parseLsn(endText)
let messages = 0
let commits = 0
let last = 0n
let pending = false
let finished = false

const stream: ReplicationStream = new ReplicationStream(
  url,
  slot,
  publication,
  {
    begin() {},
    message() {
      messages += 1
    },
    commit(commitEndLsn) {
      commits += 1
      last = commitEndLsn
      if (last > end && !finished) {
        finished = true
        void confirm().then(async () => {
          process.stdout.write(`${JSON.stringify({ messages, commits })}\n`)
          await stream.stop()
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
    },
    keepalive() {},
  },
  silentLogger,
)
const confirm = () => stream.confirm(last).catch(() => {})

await stream
  .run(
    0n,
    () => process.stdout.write('streaming\n'),
    () => {
      if (last > 0n) void confirm()
    },
  )
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
