// The relay's own cost per fact: `factlib relay` as bench/relay-process.ts starts it, configured by the same
// environment, but with a sink whose `send` resolves at once. The stream, decoding, batching, bookkeeping and
// confirmations all run; nothing is encoded for or sent to Kafka.
//
//   FACTLIB_SINK=stdout DATABASE_URL=… npx tsx bench/noop-relay.ts   (the bench runs it compiled: bench/child.ts)
import { ALL_DELIVERED, jsonLogger, parseConfig, RelayMetrics, type Sink, startRelay } from '@factlib/relay'

const config = parseConfig(process.env)
const log = jsonLogger({ level: config.logLevel }).child({ component: 'relay' })
const sink: Sink = {
  kind: 'noop',
  async start() {},
  send: async () => ALL_DELIVERED,
  readiness: () => ({ ready: true }),
  async close() {},
}
const relay = await startRelay(config, { log, sink, metrics: new RelayMetrics() })
process.once('SIGTERM', () => void relay.stop())
process.exit(await relay.done)
