// The bare decode: the relay's own replication stream (wal/stream.ts) decoding pgoutput with nothing else to
// do. It counts messages and confirms each commit (once per turn of the event loop, as the relay does) until
// it has seen the commit past `end`, then prints what it counted as JSON and exits.
//
//   npx tsx bench/bare-decode.ts <database url> <slot> <publication> <end lsn>
import { parseLsn, silentLogger } from '@factlib/relay'
import { ReplicationStream } from '../packages/relay/src/wal/stream.js'

const [url = '', slot = '', publication = '', endText = '0/0'] = process.argv.slice(2)
let end = parseLsn(endText)
let [messages, commits, last, pending] = [0, 0, 0n, false]
const confirm = () => stream.confirm(last).catch(() => {})
const handlers = {
  begin() {},
  keepalive() {},
  message() {
    messages += 1
  },
  commit(commitEndLsn: bigint) {
    ;[commits, last] = [commits + 1, commitEndLsn]
    if (last > end) {
      end = 2n ** 64n
      void confirm().then(async () => {
        process.stdout.write(`${JSON.stringify({ messages, commits })}\n`)
        await stream.stop()
        process.exit(0)
      })
    } else if (!pending) {
      pending = true
      setImmediate(() => {
        pending = false
        void confirm()
      })
    }
  },
}
const stream: ReplicationStream = new ReplicationStream(url, slot, publication, handlers, silentLogger)
const onStreaming = () => process.stdout.write('streaming\n')
await stream
  .run(0n, onStreaming, () => void (last > 0n && confirm()))
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
