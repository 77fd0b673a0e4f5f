import { parseConfig } from '../../config/config.js'
import { jsonLogger } from '../../observability/log.js'
import { RelayMetrics } from '../../observability/metrics.js'
import type { DrainSummary } from '../../relay/drain.js'
import { startRelay } from '../../relay/start-relay.js'
import { createSink } from '../../sinks/create-sink.js'
import { type Command, parseFlags, UsageError } from '../command.js'
import { ALL_VARIABLES, commandFlags, stringFlags } from '../config-flags.js'

const FLAGS = commandFlags(ALL_VARIABLES, {
  drain: {
    type: 'boolean',
    help: "relay up to the server's flushed WAL position at the start, confirm, print a summary, exit",
  },
})

export const relayCommand: Command = {
  name: 'relay',
  help: `Usage: factlib relay [flags]
       factlib relay --drain [--max-seconds <s>] [--max-facts <n>] [flags]

Streams the logical replication slot and produces every fact to Kafka, confirming each WAL position only
after Kafka acknowledged it. Configured by environment variables or the flags below (flags win; an empty
variable counts as unset). Serves /healthz, /readyz and /metrics on FACTLIB_HTTP_PORT. SIGTERM or Ctrl-C
finishes what is in flight and exits 0.

With --drain it runs once, for a schedule (cron, EventBridge): takes pg_current_wal_flush_lsn() as the
target, relays everything up to it, confirms, and exits with a one-line summary on stdout (JSON when stdout
is not a terminal: outcome, reason, facts, bytes, startLsn, endLsn, targetLsn, seconds). It binds no port.
At a bound it stops reading, finishes and confirms what is in flight. Exit codes:
  0  drained: everything up to the target is relayed and confirmed (an empty backlog exits at once)
  1  failure
  2  usage or configuration mistake
  3  a bound (--max-seconds, --max-facts) or a signal came first: more is left for the next run
  4  the slot is busy: another drain or the service relay holds it; nothing was done

Flags:
${FLAGS.help}

Examples:
  DATABASE_URL=postgres://relay:secret@db:5432/app KAFKA_BROKERS=kafka:9092 factlib relay
  factlib relay --database-url postgres://localhost/app --sink stdout
  KAFKA_CLUSTER_ARN=arn:aws:kafka:eu-west-1:123456789012:cluster/facts/abc KAFKA_SASL=iam factlib relay
  factlib relay --drain --max-seconds 240     # 3: more is left, run again soon; 4: another reader has the slot`,

  async run(argv) {
    const { values } = parseFlags('relay', argv, FLAGS.options)
    const drain = values.drain === true
    const flags = stringFlags(values)
    if (!drain && (flags['max-seconds'] !== undefined || flags['max-facts'] !== undefined))
      throw new UsageError(
        '--max-seconds and --max-facts bound a drain: add --drain (see factlib relay --help)',
      )
    const config = parseConfig(process.env, flags)
    const log = jsonLogger({ level: config.logLevel }).child({ component: 'relay' })
    const metrics = new RelayMetrics()
    const sink = createSink(config, { log, metrics })
    const relay = await startRelay(config, {
      log,
      sink,
      metrics,
      drain: drain ? { maxSeconds: config.drainMaxSeconds, maxFacts: config.drainMaxFacts } : undefined,
    })
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
    const code = await relay.done
    const summary = await relay.drained?.catch(() => undefined)
    if (summary)
      process.stdout.write(`${process.stdout.isTTY ? renderSummary(summary) : JSON.stringify(summary)}\n`)
    return code
  },
}

/** The summary of a drain run for a terminal. */
function renderSummary(summary: DrainSummary): string {
  const what = {
    drained: 'drained',
    bounded: `stopped at ${summary.reason}, more is left`,
    busy: 'slot busy (another reader holds it), nothing done',
  }[summary.outcome]
  return (
    `${what}: ${summary.facts} facts, ${summary.bytes} bytes, ${summary.startLsn} → ${summary.endLsn} ` +
    `(target ${summary.targetLsn}) in ${summary.seconds} s`
  )
}
