import type { RelayConfig } from '../config/config.js'
import type { Logger } from '../observability/log.js'
import type { RelayMetrics } from '../observability/metrics.js'
import { Pipeline } from '../pipeline/pipeline.js'
import type { Sink } from '../sinks/sink.js'
import { formatLsn, type Lsn } from '../wal/lsn.js'
import { ReplicationStream, type StreamHandlers } from '../wal/stream.js'
import type { RelayState } from './relay-state.js'

/** How a mode of the relay (a drain run) watches a session: what stands before the pipeline, what was confirmed. */
export interface SessionHooks {
  /** Receives the stream's messages instead of the pipeline, and hands on what the pipeline should get. */
  handlers?(pipeline: Pipeline): StreamHandlers
  /** A status update confirming `position` went out. */
  confirmed?(position: Lsn): void
}

/** What every session of a relay is made with. */
export interface SessionSettings {
  config: RelayConfig
  sink: Sink
  metrics: RelayMetrics
  log: Logger
  /** Standby status updates at least this often, well inside the server's `wal_sender_timeout`. */
  statusIntervalMs: number
}

/**
 * One replication session: the slot streamed from its confirmed position into a pipeline that hands
 * facts to the sink, with standby status updates on a timer and as soon as the confirmable position moves.
 */
export class Session {
  readonly pipeline: Pipeline
  readonly stream: ReplicationStream
  readonly #settings: SessionSettings
  readonly #state: RelayState
  #confirmPending: NodeJS.Immediate | undefined
  readonly #hooks: SessionHooks
  #ended = false
  #streamed = false
  /** Set by {@link hold}: the stream stays paused even when the sink catches up. */
  #held = false
  /** Closed by {@link hold} at a transaction boundary: nothing more reaches the pipeline. */
  #gateClosed = false
  #stopRequested: () => void = () => {}
  readonly #stopping = new Promise<void>((resolve) => {
    this.#stopRequested = resolve
  })

  constructor(
    readonly startLsn: Lsn,
    settings: SessionSettings,
    state: RelayState,
    hooks: SessionHooks = {},
  ) {
    this.#settings = settings
    this.#state = state
    this.#hooks = hooks
    const { config, log } = settings
    this.pipeline = new Pipeline(startLsn, {
      sink: settings.sink,
      topic: config.topic,
      dlqTopic: config.dlqTopic,
      sources: config.sources ? new Set(config.sources) : undefined,
      maxInflightBytes: config.maxInflightBytes,
      metrics: settings.metrics,
      log,
      onBackpressure: (pause) => {
        if (pause) {
          log.warn('pausing the WAL stream: the sink is behind', {
            inflightBytes: this.pipeline.inflightBytes,
          })
          this.stream.pause()
        } else if (!this.#held) {
          log.info('resuming the WAL stream', { inflightBytes: this.pipeline.inflightBytes })
          this.stream.resume()
        }
      },
      // Confirm as soon as the position moves (what is acknowledged but unconfirmed is replayed after a
      // crash), once per turn of the event loop rather than once per acknowledgement.
      onConfirmable: () => {
        this.#confirmPending ??= setImmediate(() => {
          this.#confirmPending = undefined
          this.#sendStatus()
        })
      },
    })
    this.stream = new ReplicationStream(
      config.databaseUrl,
      config.slot,
      config.publication,
      this.#gate(hooks.handlers?.(this.pipeline) ?? this.pipeline),
      log,
      config.replicationTimeoutMs,
    )
  }

  /** Whether the server started streaming in this session (it was healthy, however it ended). */
  get streamed(): boolean {
    return this.#streamed
  }

  /** Stream until {@link stop} (resolves) or until the stream or the pipeline fails (rejects). */
  async run(): Promise<void> {
    const { metrics, log } = this.#settings
    // Timed status updates request a reply, so a live server is heard from at least once per interval;
    // at least three of them fit in the replication timeout, after which the stream gives up on a silent link.
    const statusTimer = setInterval(
      () => this.#sendStatus(true),
      Math.max(
        100,
        Math.min(this.#settings.statusIntervalMs, Math.floor(this.#settings.config.replicationTimeoutMs / 3)),
      ),
    )
    statusTimer.unref()
    const onStarted = () => {
      this.#streamed = true
      this.#state.phase = 'streaming'
      metrics.streaming = true
      this.#state.confirmed = this.startLsn
      log.info('streaming', { from: formatLsn(this.startLsn) })
    }
    try {
      await Promise.race([
        this.stream.run(this.startLsn, onStarted, () => this.#sendStatus()),
        this.pipeline.failed,
        // pg never settles the connect of a client ended while connecting: a session stopped then would
        // otherwise wait for its stream for ever.
        this.#stopping,
      ])
    } finally {
      clearInterval(statusTimer)
      clearImmediate(this.#confirmPending)
      metrics.streaming = false
      await this.pipeline.abort()
      await this.stream.stop().catch(() => {})
      this.#ended = true
    }
  }

  /**
   * Stop reading for good (the sink catching up does not resume it): what is read still goes out. An open
   * transaction is read to its COMMIT first, so that every fact handed to the sink can be confirmed;
   * whatever the connection delivers after that is dropped unread, and sent again to the next session.
   */
  hold(): void {
    this.#held = true
    if (this.pipeline.confirmations.inTransaction) this.stream.resume()
    else this.#closeGate()
  }

  #closeGate(): void {
    this.#gateClosed = true
    this.stream.pause()
  }

  /**
   * The stream's handlers behind a gate that {@link hold} closes at a transaction boundary. Pausing the
   * socket alone is not enough: the rest of a chunk already read is still parsed and handed on. Once
   * closed, keepalives are dropped too: one could confirm past a transaction dropped here.
   */
  #gate(inner: StreamHandlers): StreamHandlers {
    return {
      begin: (commitLsn, commitTime) => {
        if (!this.#gateClosed) inner.begin(commitLsn, commitTime)
      },
      message: (message) => {
        if (!this.#gateClosed) inner.message(message)
      },
      commit: (commitEndLsn) => {
        if (this.#gateClosed) return
        inner.commit(commitEndLsn)
        if (this.#held) this.#closeGate()
      },
      keepalive: (walEnd) => {
        if (!this.#gateClosed) inner.keepalive(walEnd)
      },
    }
  }

  /** Close the replication connection; `run` settles even when the connection was still being made. */
  async stop(): Promise<void> {
    this.#stopRequested()
    await this.stream.stop().catch(() => {})
  }

  /**
   * Send a status update confirming what the pipeline may confirm. Only a status update that went out
   * moves the relay's confirmed position: the one it logs and reports must be the one PostgreSQL has.
   */
  async confirm(replyRequested = false): Promise<void> {
    const position = this.pipeline.confirmations.position
    await this.stream.confirm(position, replyRequested)
    this.#state.confirmed = position
    this.#hooks.confirmed?.(position)
  }

  #sendStatus(replyRequested = false): void {
    if (this.#ended) return
    this.confirm(replyRequested).catch((error: unknown) =>
      this.#settings.log.warn('sending the standby status update failed', { error }),
    )
  }
}
