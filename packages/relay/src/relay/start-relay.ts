import { FactlibError } from '@factlib/emit'
import pg from 'pg'
import type { RelayConfig } from '../config/config.js'
import { redactUrl } from '../config/config.js'
import { type HttpServer, startHttp } from '../observability/http.js'
import type { Logger } from '../observability/log.js'
import { RelayMetrics } from '../observability/metrics.js'
import { Pipeline } from '../pipeline/pipeline.js'
import type { Sink } from '../sinks/sink.js'
import { formatLsn, type Lsn } from '../wal/lsn.js'
import { assertChecks, checkDatabase, explainConnectError } from '../wal/prerequisites.js'
import { ensureSlot, readSlot, SlotLostError } from '../wal/slot.js'
import { ReplicationStream, SlotBusyError } from '../wal/stream.js'

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
}

/** A running relay. */
export interface Relay {
  readonly metrics: RelayMetrics
  /** The HTTP port actually bound (useful with port 0). */
  readonly httpPort: number
  /** Resolves with the process exit code once the relay has ended: 0 after a clean stop, 1 after a fatal error. */
  readonly done: Promise<number>
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

/** A relay's state as its HTTP endpoints report it. */
export interface RelayStatus {
  state: 'starting' | 'connecting' | 'streaming' | 'standby' | 'stopping' | 'lost'
  slot: string
  confirmedLsn: string | null
  relayed: number
  deadLettered: number
  produceErrors: number
  slotLagBytes: number
  /** Age of the oldest transaction read but not yet confirmed; 0 when none. */
  slotLagSeconds: number
  inflightBytes: number
}

interface Session {
  stream: ReplicationStream
  pipeline: Pipeline
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
  let statusIntervalMs = options.statusIntervalMs ?? 10_000
  const monitorIntervalMs = options.monitorIntervalMs ?? 5_000
  const standbyRetryMs = options.standbyRetryMs ?? 1_000
  const stopping = new AbortController()
  let session: Session | undefined
  let state: RelayStatus['state'] = 'starting'
  let standbyReason = ''
  let lastConfirmed: Lsn | undefined
  let fatal: unknown

  const notReady = (): string[] => {
    const reasons: string[] = []
    if (state === 'lost') reasons.push(`replication slot "${config.slot}" is lost (wal_status = lost)`)
    else if (state === 'standby') reasons.push(`standby: ${standbyReason}`)
    else if (state !== 'streaming') reasons.push(`not streaming slot "${config.slot}" (${state})`)
    const readiness = sink.readiness()
    if (!readiness.ready) reasons.push(readiness.reason)
    return reasons
  }
  const lagSeconds = () => {
    const oldest = session?.pipeline.confirmations.oldestUnconfirmedCommitTime
    return oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000)
  }
  const status = (): RelayStatus => ({
    state,
    slot: config.slot,
    confirmedLsn: lastConfirmed === undefined ? null : formatLsn(lastConfirmed),
    ...metrics.totals(),
    slotLagBytes: metrics.slotLagBytes,
    slotLagSeconds: lagSeconds(),
    inflightBytes: metrics.inflightBytes,
  })
  const http: HttpServer = await startHttp(config.httpPort, {
    notReady,
    metrics: () => {
      metrics.slotLagSeconds = lagSeconds()
      return metrics.prometheus()
    },
    status: () => ({ ...status() }),
  }).catch((error: NodeJS.ErrnoException) => {
    throw new FactlibError(
      'HTTP_PORT',
      error.code === 'EADDRINUSE'
        ? `FACTLIB_HTTP_PORT ${config.httpPort} is already in use; choose another port`
        : `cannot serve HTTP on port ${config.httpPort}: ${error.message}`,
      { cause: error },
    )
  })

  const admin = new pg.Pool({ connectionString: config.databaseUrl, max: 2, idleTimeoutMillis: 30_000 })
  admin.on('error', (error) => {
    // Once stopping, a server going away is expected, not worth a warning.
    if (!stopping.signal.aborted)
      log.warn('database connection for monitoring failed', { error: error.message })
  })
  const cleanupStart = async () => {
    await admin.end().catch(() => {})
    await http.close()
  }

  try {
    const client = await admin.connect().catch((error: unknown) => {
      throw explainConnectError(error, config.databaseUrl)
    })
    try {
      assertChecks(await checkDatabase(client, config.databaseUrl))
      // Status updates must reach the server well inside its wal_sender_timeout, or it ends the session.
      const timeout = await client.query<{ ms: number }>(
        `select setting::int as ms from pg_settings where name = 'wal_sender_timeout'`,
      )
      const senderTimeoutMs = timeout.rows[0]?.ms ?? 60_000
      if (options.statusIntervalMs === undefined && senderTimeoutMs > 0)
        statusIntervalMs = Math.max(500, Math.min(10_000, Math.floor(senderTimeoutMs / 4)))
      const slot = await ensureSlot(client, config, log)
      metrics.walStatus = slot.walStatus ?? undefined
      metrics.slotLagBytes = slot.lagBytes
    } finally {
      client.release()
    }
    await sink.start()
  } catch (error) {
    if (error instanceof SlotLostError) metrics.walStatus = 'lost'
    await cleanupStart()
    throw error
  }
  log.info('relay started', {
    database: redactUrl(config.databaseUrl),
    publication: config.publication,
    sink: sink.kind,
    httpPort: http.port,
  })

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      stopping.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      })
    })

  const runSession = async (startLsn: Lsn) => {
    let confirmPending: NodeJS.Immediate | undefined
    const sendStatus = () => {
      if (!session) return
      const position = session.pipeline.confirmations.position
      session.stream.confirm(position).then(
        () => {
          lastConfirmed = position
        },
        (error: unknown) => log.warn('sending the standby status update failed', { error }),
      )
    }
    // Confirm as soon as the position moves (what is acknowledged but unconfirmed is replayed after a
    // crash), once per turn of the event loop rather than once per acknowledgement.
    const onConfirmable = () => {
      confirmPending ??= setImmediate(() => {
        confirmPending = undefined
        sendStatus()
      })
    }
    const pipeline: Pipeline = new Pipeline(startLsn, {
      sink,
      topic: config.topic,
      dlqTopic: config.dlqTopic,
      sources: config.sources ? new Set(config.sources) : undefined,
      maxInflightBytes: config.maxInflightBytes,
      metrics,
      log,
      onBackpressure: (pause) => {
        if (pause) {
          log.warn('pausing the WAL stream: the sink is behind', { inflightBytes: pipeline.inflightBytes })
          stream.pause()
        } else {
          log.info('resuming the WAL stream', { inflightBytes: pipeline.inflightBytes })
          stream.resume()
        }
      },
      onConfirmable,
    })
    const stream: ReplicationStream = new ReplicationStream(
      config.databaseUrl,
      config.slot,
      config.publication,
      pipeline,
      log,
    )
    session = { stream, pipeline }
    const statusTimer = setInterval(sendStatus, statusIntervalMs)
    statusTimer.unref()
    try {
      await Promise.race([
        stream.run(
          startLsn,
          () => {
            state = 'streaming'
            metrics.streaming = true
            lastConfirmed = startLsn
            log.info('streaming', { from: formatLsn(startLsn) })
          },
          sendStatus,
        ),
        pipeline.failed,
      ])
    } finally {
      clearInterval(statusTimer)
      clearImmediate(confirmPending)
      metrics.streaming = false
      await pipeline.abort()
      await stream.stop().catch(() => {})
      session = undefined
    }
  }

  const sessions = async (): Promise<void> => {
    let failures = 0
    while (!stopping.signal.aborted) {
      try {
        const slot = await admin.connect().then(async (client) => {
          try {
            return await readSlot(client, config.slot)
          } finally {
            client.release()
          }
        })
        if (!slot)
          throw new FactlibError(
            'SLOT_MISSING',
            `replication slot "${config.slot}" disappeared while the relay was running; facts may be lost. ` +
              'Restart with FACTLIB_CREATE_SLOT=force once you know why.',
          )
        if (slot.walStatus === 'lost') throw new SlotLostError(config.slot)
        if (state !== 'standby') state = 'connecting'
        await runSession(slot.confirmedFlushLsn)
        failures = 0
      } catch (error) {
        if (stopping.signal.aborted) return
        if (
          error instanceof SlotLostError ||
          (error instanceof FactlibError && error.code === 'SLOT_MISSING')
        ) {
          if (error instanceof SlotLostError) {
            state = 'lost'
            metrics.walStatus = 'lost'
          }
          throw error
        }
        if (error instanceof SlotBusyError) {
          if (state !== 'standby')
            log.info('another relay holds the slot; waiting as a hot standby', { reason: error.message })
          state = 'standby'
          standbyReason = error.message
          await wait(standbyRetryMs)
          continue
        }
        failures += 1
        state = 'connecting'
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2)
        log.warn('replication session ended; reconnecting', {
          error: error instanceof Error ? error.message : String(error),
          code: (error as { code?: string }).code,
          retryInMs: Math.round(delay),
        })
        await wait(delay)
      }
    }
  }

  const monitor = setInterval(() => {
    admin
      .query<{ lag: string | null; wal_status: string | null }>(
        `select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag, wal_status
           from pg_replication_slots where slot_name = $1`,
        [config.slot],
      )
      .then(({ rows }) => {
        const row = rows[0]
        if (!row) return
        metrics.slotLagBytes = Number(row.lag ?? 0)
        metrics.walStatus = row.wal_status ?? undefined
        if (row.wal_status === 'lost' && state !== 'lost') {
          state = 'lost'
          fatal = new SlotLostError(config.slot)
          log.error('the replication slot was invalidated; exiting', { error: fatal })
          void stop()
        }
      })
      .catch((error: unknown) => log.debug('reading slot lag failed', { error }))
  }, monitorIntervalMs)
  const writeEmf = () => {
    metrics.slotLagSeconds = lagSeconds()
    ;(options.writeEmf ?? ((line) => process.stdout.write(line)))(
      `${metrics.emf(config.metricsNamespace, config.slot)}\n`,
    )
  }
  const emf =
    config.metrics === 'emf' ? setInterval(writeEmf, config.metricsIntervalSeconds * 1000) : undefined

  const sessionsDone = sessions().catch((error: unknown) => {
    fatal = error
    log.error('relay failed', { error })
    void stop()
  })

  let stopped: Promise<number> | undefined
  const stop = (): Promise<number> => {
    stopped ??= (async () => {
      const started = Date.now()
      if (state !== 'lost') state = 'stopping'
      stopping.abort()
      let drained = true
      const current = session
      // A lost slot has nothing left worth delivering: its WAL is gone, so do not wait for the sink.
      if (current && state === 'lost') {
        await current.pipeline.abort()
        await current.stream.stop().catch(() => {})
      } else if (current) {
        current.stream.pause()
        const deadline = new Promise<false>((resolve) =>
          setTimeout(() => resolve(false), config.shutdownTimeoutMs).unref(),
        )
        drained = await Promise.race([current.pipeline.drain().then(() => true), deadline])
        if (!drained)
          log.warn('shutdown deadline reached with facts in flight; they will be relayed again after restart')
        const position = current.pipeline.confirmations.position
        await current.stream.confirm(position).catch(() => {})
        lastConfirmed = position
        await current.stream.stop().catch(() => {})
      }
      await sessionsDone
      clearInterval(monitor)
      if (emf) {
        clearInterval(emf)
        writeEmf()
      }
      await sink.close().catch((error: unknown) => log.warn('closing the sink failed', { error }))
      await admin.end().catch(() => {})
      await http.close()
      const code = fatal === undefined && drained ? 0 : 1
      log.info('relay stopped', {
        exitCode: code,
        confirmed: lastConfirmed === undefined ? null : formatLsn(lastConfirmed),
        tookMs: Date.now() - started,
      })
      return code
    })()
    return stopped
  }

  let resolveDone: (code: number) => void = () => {}
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve
  })
  void sessionsDone.then(async () => resolveDone(await stop()))

  return {
    metrics,
    httpPort: http.port,
    done,
    notReady,
    status,
    confirmed: () => lastConfirmed,
    stop,
  }
}
