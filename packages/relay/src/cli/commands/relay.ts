import { parseConfig } from '../../config/config.js'
import { jsonLogger } from '../../observability/log.js'
import { RelayMetrics } from '../../observability/metrics.js'
import { startRelay } from '../../relay/start-relay.js'
import { createSink } from '../../sinks/create-sink.js'
import { type Command, parseFlags } from '../command.js'
import { ALL_VARIABLES, commandFlags, stringFlags } from '../config-flags.js'

const FLAGS = commandFlags(ALL_VARIABLES)

export const relayCommand: Command = {
  name: 'relay',
  help: `Usage: factlib relay [flags]

Streams the logical replication slot and produces every fact to Kafka, confirming each WAL position only
after Kafka acknowledged it. Configured by environment variables or the flags below (flags win; an empty
variable counts as unset). Serves /healthz, /readyz and /metrics on FACTLIB_HTTP_PORT. SIGTERM or Ctrl-C
finishes what is in flight and exits 0.

Flags:
${FLAGS.help}

Examples:
  DATABASE_URL=postgres://relay:secret@db:5432/app KAFKA_BROKERS=kafka:9092 factlib relay
  factlib relay --database-url postgres://localhost/app --sink stdout
  KAFKA_CLUSTER_ARN=arn:aws:kafka:eu-west-1:123456789012:cluster/facts/abc KAFKA_SASL=iam factlib relay`,

  async run(argv) {
    const { values } = parseFlags('relay', argv, FLAGS.options)
    const config = parseConfig(process.env, stringFlags(values))
    const log = jsonLogger({ level: config.logLevel }).child({ component: 'relay' })
    const metrics = new RelayMetrics()
    const sink = createSink(config, { log, metrics })
    const relay = await startRelay(config, { log, sink, metrics })
    let signals = 0
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1
      if (signals > 1) {
        log.warn('second signal: exiting without waiting', { signal })
        process.exit(1)
      }
      log.info('stopping', { signal })
      // An attempt under way against a hung broker may outlast the deadline; never outlive it by much.
      setTimeout(() => {
        log.error('shutdown took too long; exiting with facts unconfirmed (they will be relayed again)')
        process.exit(1)
      }, config.shutdownTimeoutMs + 5_000).unref()
      void relay.stop()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    return relay.done
  },
}
