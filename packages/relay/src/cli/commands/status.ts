import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import { redactUrl } from '../../config/config.js'
import { errorMessage } from '../../util/error-fields.js'
import { formatBytes, formatRate, formatSeconds } from '../../util/format.js'
import { formatLsn } from '../../wal/lsn.js'
import { readSlot } from '../../wal/slot.js'
import { type Command, parseFlags, UsageError } from '../command.js'
import { commandFlags, inspectConfig, stringFlags } from '../config-flags.js'
import { connectDatabase } from '../connect.js'
import { fetchRelayStatus, RateMeter, type RelayHttpStatus, relayBaseUrl } from '../relay-status-client.js'
import { table } from '../table.js'

const FLAGS = commandFlags(
  ['DATABASE_URL', 'FACTLIB_SLOT', 'FACTLIB_HTTP_PORT'],
  {
    'relay-url': {
      type: 'string',
      value: '<url>',
      help: "the relay's HTTP base URL, e.g. http://relay.internal:8080 (instead of --http-port)",
    },
    watch: { type: 'boolean', help: 'refresh every --interval seconds (in place on a terminal)' },
    interval: { type: 'string', value: '<s>', help: 'seconds between refreshes [2]' },
    json: { type: 'boolean', help: 'print the report as JSON (one line per refresh with --watch)' },
  },
  { FACTLIB_HTTP_PORT: "the relay's HTTP port on this machine, to add its throughput and readiness" },
)

/** What `factlib status` reports; `--json` prints exactly this. */
export interface StatusReport {
  time: string
  slot: {
    name: string
    exists: boolean
    database?: string
    plugin?: string
    /** The server process streaming the slot (a relay's walsender), or null when none does. */
    activePid?: number | null
    confirmedLsn?: string
    walStatus?: string | null
    /** Bytes of WAL that can still be written before the slot is lost; null when unlimited. */
    safeWalSize?: number | null
    lagBytes?: number
    /** Seconds behind: the relay's own measure when its port is given, else the walsender's flush lag. */
    lagSeconds?: number | null
  }
  relay?: {
    url: string
    reachable: boolean
    error?: string
    ready?: boolean
    reasons?: string[]
    state?: string
    relayed?: number
    factsPerSecond?: number
    /**
     * How long the sink has held the oldest batch it has not acknowledged (0 when none), the kind of its
     * last failed attempt since then, and whether that is longer than the relay's FACTLIB_STALL_SECONDS.
     */
    sink?: { stallSeconds: number; lastErrorKind: string | null; stalled: boolean }
  }
}

export const statusCommand: Command = {
  name: 'status',
  help: `Usage: factlib status [flags]

Shows the replication slot as PostgreSQL sees it: its lag in bytes and seconds, the confirmed LSN, the
server process streaming it (the relay's), wal_status and safe_wal_size. With the relay's HTTP port (or
URL) it adds the relay's throughput and readiness, and its sink while that holds a batch (STALLED past
the relay's FACTLIB_STALL_SECONDS, with the last error's kind). Exits 1 when the slot is missing or lost,
or the relay is given and not ready; 0 otherwise. --watch refreshes until Ctrl-C.

Flags:
${FLAGS.help}

Examples:
  DATABASE_URL=postgres://relay@db:5432/app factlib status
  factlib status --database-url postgres://localhost/app --http-port 8080 --watch
  factlib status --json | jq .slot.lagBytes`,

  async run(argv) {
    const { values } = parseFlags('status', argv, FLAGS.options)
    const flags = stringFlags(values)
    const interval = Number(flags.interval ?? '2')
    if (!/^\d+(\.\d+)?$/.test(flags.interval ?? '2') || interval < 0.2 || interval > 3600)
      throw new UsageError(
        `--interval is ${JSON.stringify(flags.interval)}; expected seconds from 0.2 to 3600`,
      )
    const relayUrlFlag = flags['relay-url']
    if (relayUrlFlag !== undefined && !URL.canParse(relayUrlFlag))
      throw new UsageError(
        `--relay-url is ${JSON.stringify(relayUrlFlag)}; expected a URL like http://host:8080`,
      )
    const config = inspectConfig(flags)
    const portGiven = flags['http-port'] !== undefined || Boolean(process.env.FACTLIB_HTTP_PORT?.trim())
    const relayUrl = relayBaseUrl(relayUrlFlag, portGiven ? config.httpPort : undefined)
    const json = values.json === true
    const rate = new RateMeter(Math.max(5_000, interval * 3_000))

    const client = await connectDatabase(config.databaseUrl, 'status')
    const report = async (): Promise<StatusReport> => {
      const relay = relayUrl ? await readRelay(relayUrl, rate) : undefined
      return {
        time: new Date().toISOString(),
        slot: await readSlotStatus(client, config.slot, relay?.slotLagSeconds),
        ...(relay ? { relay: relay.report } : {}),
      }
    }

    try {
      if (!values.watch) {
        // Throughput needs two samples a moment apart.
        if (relayUrl) await readRelay(relayUrl, rate).catch(() => undefined)
        if (relayUrl) await new Promise((resolve) => setTimeout(resolve, 1_000))
        const result = await report()
        if (!result.slot.exists)
          throw new FactlibError(
            'SLOT_MISSING',
            `replication slot "${config.slot}" does not exist in ${redactUrl(config.databaseUrl)}: run factlib setup, or start the relay`,
          )
        process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${render(result)}\n`)
        return healthy(result) ? 0 : 1
      }
      const inPlace = process.stdout.isTTY === true && !json
      let stopped = false
      let wake: () => void = () => {}
      const onSignal = () => {
        stopped = true
        wake()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      while (!stopped) {
        let text: string
        try {
          const result = await report()
          text = json
            ? JSON.stringify(result)
            : `${render(result)}\n${new Date().toLocaleTimeString()} · every ${interval} s · Ctrl-C quits`
        } catch (error) {
          text = json
            ? JSON.stringify({ time: new Date().toISOString(), error: errorMessage(error) })
            : `cannot read the status: ${errorMessage(error)}`
        }
        process.stdout.write(inPlace ? `\x1b[H\x1b[2J${text}\n` : `${text}\n${json ? '' : '\n'}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
      }
      return 0
    } finally {
      await client.end().catch(() => {})
    }
  },
}

async function readSlotStatus(
  client: pg.Client,
  name: string,
  relayLagSeconds: number | undefined,
): Promise<StatusReport['slot']> {
  const state = await readSlot(client, name)
  if (!state) return { name, exists: false }
  let lagSeconds: number | null = relayLagSeconds ?? null
  if (lagSeconds === null && state.activePid !== null) {
    // The walsender's flush lag, from the relay's status updates; NULL once it has been idle and caught up.
    const { rows } = await client.query<{ lag: number | null }>(
      'select extract(epoch from flush_lag)::float8 as lag from pg_stat_replication where pid = $1',
      [state.activePid],
    )
    lagSeconds = rows[0]?.lag ?? 0
  }
  return {
    name,
    exists: true,
    database: state.database,
    plugin: state.plugin,
    activePid: state.activePid,
    confirmedLsn: formatLsn(state.confirmedFlushLsn),
    walStatus: state.walStatus,
    safeWalSize: state.safeWalSize,
    lagBytes: state.lagBytes,
    lagSeconds,
  }
}

async function readRelay(
  url: string,
  rate: RateMeter,
): Promise<{ report: NonNullable<StatusReport['relay']>; slotLagSeconds?: number }> {
  let status: RelayHttpStatus
  try {
    status = await fetchRelayStatus(url)
  } catch (error) {
    return { report: { url, reachable: false, error: errorMessage(error) } }
  }
  rate.add(status.relayed ?? 0)
  return {
    report: {
      url,
      reachable: true,
      ready: status.ready,
      reasons: status.reasons,
      ...(status.state ? { state: status.state } : {}),
      relayed: status.relayed ?? 0,
      factsPerSecond: Math.round(rate.perSecond() * 10) / 10,
      ...(status.sinkStallSeconds === undefined
        ? {}
        : {
            sink: {
              stallSeconds: Math.round(status.sinkStallSeconds * 10) / 10,
              lastErrorKind: status.sinkErrorKind ?? null,
              stalled: status.sinkStalled === true,
            },
          }),
    },
    ...(status.slotLagSeconds === undefined ? {} : { slotLagSeconds: status.slotLagSeconds }),
  }
}

function healthy(report: StatusReport): boolean {
  return (
    report.slot.exists &&
    report.slot.walStatus !== 'lost' &&
    (report.relay === undefined || report.relay.ready === true)
  )
}

function describeSink(sink: NonNullable<NonNullable<StatusReport['relay']>['sink']>): string {
  const error = sink.lastErrorKind === null ? 'no error reported' : `last error: ${sink.lastErrorKind}`
  if (sink.stalled)
    return `STALLED: no batch acknowledged for ${formatSeconds(sink.stallSeconds)} (${error}); every source waits`
  if (sink.lastErrorKind !== null)
    return `retrying a batch for ${formatSeconds(sink.stallSeconds)} (${error})`
  return `waiting ${formatSeconds(sink.stallSeconds)} for a batch to be acknowledged`
}

function render(report: StatusReport): string {
  const { slot, relay } = report
  if (!slot.exists) return `replication slot "${slot.name}": missing (run factlib setup, or start the relay)`
  const lines = [
    `replication slot "${slot.name}" in database ${slot.database} (${slot.plugin})`,
    table([
      [
        'streamed by',
        slot.activePid === null ? 'nobody: no relay is streaming it' : `server process ${slot.activePid}`,
      ],
      ['confirmed LSN', slot.confirmedLsn ?? ''],
      ['slot lag', `${formatBytes(slot.lagBytes ?? 0)}, ${formatSeconds(slot.lagSeconds)}`],
      ['wal_status', slot.walStatus ?? 'unknown'],
      ['safe_wal_size', formatBytes(slot.safeWalSize ?? null)],
    ]),
  ]
  if (relay) {
    lines.push(`relay ${relay.url}`)
    lines.push(
      table(
        relay.reachable
          ? [
              ['ready', relay.ready ? 'yes' : `no: ${(relay.reasons ?? []).join('; ')}`],
              [
                'throughput',
                `${formatRate(relay.factsPerSecond ?? 0)} facts/s, ${relay.relayed} relayed since it started`,
              ],
              // Only while the sink holds a batch noticeably long: a healthy one acknowledges in milliseconds.
              ...(relay.sink && (relay.sink.stallSeconds >= 1 || relay.sink.lastErrorKind !== null)
                ? [['sink', describeSink(relay.sink)]]
                : []),
            ]
          : [['reachable', `no: ${relay.error}`]],
      ),
    )
  }
  return lines.join('\n')
}
