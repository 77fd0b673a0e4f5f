import pg from 'pg'
import type { RelayConfig } from '../config/config.js'
import { redactUrl } from '../config/config.js'
import type { Logger } from '../observability/log.js'
import { RelayMetrics } from '../observability/metrics.js'
import type { Sink } from '../sinks/sink.js'
import type { Lsn } from '../wal/lsn.js'
import { type DrainOptions, type DrainSummary, drainSlot, NO_ENDPOINTS } from './drain.js'
import { prepare } from './prepare.js'
import { RelayState, type RelayStatus } from './relay-state.js'
import { serveEndpoints, writeEmfLines } from './reporting.js'
import { runSessions } from './session-loop.js'
import { shutdown } from './shutdown.js'
import { monitorSlot } from './slot-monitor.js'
import { watchSinkStall } from './stall-watch.js'

export type { DrainOptions, DrainReason, DrainSummary } from './drain.js'
export type { RelayStatus } from './relay-state.js'

export interface RelayOptions {
  log: Logger
  sink: Sink
  /** Shared with the sink, which counts produce errors and dead letters. @default a new registry */
  metrics?: RelayMetrics
  /** Where EMF lines go when `config.metrics` is `emf`. @default process.stdout */
  writeEmf?: (line: string) => void
  /** Standby status updates at least this often, well inside `wal_sender_timeout` (60 s by default). */
  statusIntervalMs?: number
  /** How often the slot's lag and `wal_status` are read. */
  monitorIntervalMs?: number
  /** Retry delay while another relay holds the slot (hot standby). */
  standbyRetryMs?: number
  /**
   * Drain mode: relay up to the server's flushed WAL position at the start, confirm, and end (no HTTP
   * port, no hot standby: a slot another reader holds ends the run as `busy`). See {@link Relay.drained}.
   */
  drain?: DrainOptions
}

/** A running relay. */
export interface Relay {
  readonly metrics: RelayMetrics
  /** The HTTP port actually bound (useful with port 0). */
  readonly httpPort: number
  /**
   * Resolves with the process exit code once the relay has ended: 0 after a clean stop, 1 after a fatal
   * error; in drain mode 0 drained to the target, 3 a bound or a signal came first, 4 the slot was busy.
   */
  readonly done: Promise<number>
  /** Drain mode: what the run did, once it ended (rejects when it failed). */
  readonly drained: Promise<DrainSummary> | undefined
  /** Why the relay is not ready; empty when it is. */
  notReady(): string[]
  /** What /healthz and /readyz report besides readiness: state, confirmed position, totals, lag. */
  status(): RelayStatus
  /** The position confirmed to PostgreSQL last, once streaming. */
  confirmed(): Lsn | undefined
  /**
   * Graceful shutdown: stop reading, finish and confirm what is in flight, close. Resolves with the exit
   * code: 0 when everything read was delivered and confirmed within the deadline, 1 otherwise.
   */
  stop(): Promise<number>
}

/**
 * Start relaying: check the database, set up the publication and slot, connect the sink, then stream the
 * slot into the sink for as long as it runs, reconnecting after failures and waiting as a hot standby while
 * another relay holds the slot.
 *
 * @example
 * ```ts
 * const config = parseConfig(process.env)
 * const metrics = new RelayMetrics()
 * const relay = await startRelay(config, { log, metrics, sink: createSink(config, { log, metrics }) })
 * process.once('SIGTERM', () => void relay.stop().then((code) => process.exit(code)))
 * ```
 */
export async function startRelay(config: RelayConfig, options: RelayOptions): Promise<Relay> {
  const log = options.log.child({ slot: config.slot })
  const metrics = options.metrics ?? new RelayMetrics()
  const { sink } = options
  const state = new RelayState(config.slot, sink, metrics, config.stallSeconds)
  const stopping = new AbortController()
  const http = options.drain ? NO_ENDPOINTS : await serveEndpoints(config.httpPort, state)
  // A network that goes silent without closing would hang a slot read before each reconnect until the
  // kernel gives up (~15 min): these connections give up within the replication timeout instead.
  const admin = new pg.Pool({
    connectionString: config.databaseUrl,
    max: 2,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: config.replicationTimeoutMs,
    query_timeout: config.replicationTimeoutMs,
  })
  admin.on('error', (error) => {
    // Once stopping, a server going away is expected, not worth a warning.
    if (!stopping.signal.aborted)
      log.warn('database connection for monitoring failed', { error: error.message })
  })
  let statusIntervalMs: number
  try {
    statusIntervalMs = await prepare(admin, config, {
      sink,
      log,
      metrics,
      statusIntervalMs: options.statusIntervalMs,
    })
  } catch (error) {
    await admin.end().catch(() => {})
    await http.close()
    throw error
  }
  log.info('relay started', {
    database: redactUrl(config.databaseUrl),
    publication: config.publication,
    sink: sink.kind,
    httpPort: http.port,
    ...(options.drain ? { mode: 'drain' } : {}),
  })

  const stopSlotMonitor = monitorSlot(admin, state, {
    log,
    intervalMs: options.monitorIntervalMs ?? 5_000,
    stop: () => void stop(),
  })
  const stopStallWatch = watchSinkStall(state, log)
  const stopMonitor = () => {
    stopSlotMonitor()
    stopStallWatch()
  }
  const stopEmf = writeEmfLines(config, state, options.writeEmf ?? ((line) => process.stdout.write(line)))
  const loop = {
    config,
    sink,
    metrics,
    log,
    statusIntervalMs,
    admin,
    standbyRetryMs: options.standbyRetryMs ?? 1_000,
    signal: stopping.signal,
  }
  const drained = options.drain ? drainSlot(loop, state, options.drain) : undefined
  drained?.catch(() => {})
  const sessionsDone = (drained ?? runSessions(loop, state)).then(
    () => {},
    (error: unknown) => {
      state.fatal = error
      log.error('relay failed', { error })
      void stop()
    },
  )
  let stopped: Promise<number> | undefined
  const stop = (): Promise<number> => {
    stopped ??= shutdown({
      state,
      log,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      stopping,
      sessionsDone,
      stopMonitor,
      stopEmf,
      sink,
      admin,
      http,
    })
    return stopped
  }

  return {
    metrics,
    httpPort: http.port,
    done: sessionsDone
      .then(stop)
      .then(async (code) => (code === 0 && drained ? (await drained).exitCode : code)),
    drained,
    notReady: () => state.notReady(),
    status: () => state.status(),
    confirmed: () => state.confirmed,
    stop,
  }
}
