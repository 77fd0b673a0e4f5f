import { FactlibError } from '@factlib/emit'
import pg from 'pg'
import type { Logger } from '../observability/log.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { formatLsn, type Lsn } from './lsn.js'
import { decodeCopyData, type StreamHandlers, standbyStatusUpdate } from './pgoutput.js'
import { quoteIdent } from './prerequisites.js'

export type { StreamHandlers } from './pgoutput.js'

/** A replication session could not start because another reader holds the slot (`SLOT_BUSY`). */
export class SlotBusyError extends FactlibError {
  override readonly name = 'SlotBusyError'
  constructor(slot: string, cause: unknown) {
    // Retriable: the other reader may stop, and then this relay takes over (standby).
    super('SLOT_BUSY', `replication slot "${slot}" is in use by another reader: ${errorMessage(cause)}`, {
      cause,
      retriable: true,
    })
  }
}

/** The parts of node-postgres's connection a replication session uses; they are not in its typings. */
interface ReplicationConnection {
  stream: {
    pause(): void
    resume(): void
    writable: boolean
    destroy(): void
    write(data: Buffer, done: (error?: Error | null) => void): boolean
  }
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void
  once(event: 'replicationStart', listener: () => void): void
}

/**
 * One logical replication session on a slot with pgoutput (`proto_version '1'`, `messages 'true'`) over a
 * node-postgres connection in replication mode. Each CopyData message is decoded where it lies in the
 * read buffer ({@link decodeCopyData}) and handed to the handlers synchronously; the caller can stop
 * reading (backpressure) and sends standby status updates for exactly the position it chooses.
 */
export class ReplicationStream {
  readonly #client: pg.Client
  readonly #handlers: StreamHandlers
  readonly #publication: string
  readonly #log: Logger
  #connection: ReplicationConnection | undefined
  #failed: ((error: unknown) => void) | undefined
  #paused = false
  #stopping = false
  readonly #silenceTimeoutMs: number
  /** When the server was last heard from (any CopyData), or reading last began; `performance.now()`. */
  #lastHeard = 0
  #watchdog: NodeJS.Timeout | undefined

  constructor(
    databaseUrl: string,
    readonly slot: string,
    publication: string,
    handlers: StreamHandlers,
    log: Logger,
    /**
     * End the session with `REPLICATION_TIMEOUT` when nothing at all arrived from the server for this long
     * while reading (FACTLIB_REPLICATION_TIMEOUT). A link that goes silent without a FIN or RST is
     * otherwise never noticed: `wal_sender_timeout` acts only on the server, and TCP keepalive does not
     * fire while unacknowledged data is queued. @default 30_000
     */
    silenceTimeoutMs = 30_000,
  ) {
    this.#silenceTimeoutMs = silenceTimeoutMs
    this.#client = new pg.Client({
      connectionString: databaseUrl,
      replication: 'database',
    } as pg.ClientConfig)
    this.#handlers = handlers
    this.#publication = publication
    this.#log = log
    this.#client.on('error', (error) => this.#fail(error))
  }

  /**
   * Stream from `startLsn` (the slot's freshly read `confirmed_flush_lsn`, never a last-received position)
   * until {@link stop} or an error. Resolves once the stream ends after `stop()`; rejects on any error,
   * with {@link SlotBusyError} when another reader holds the slot.
   */
  run(startLsn: Lsn, onStarted: () => void, onKeepaliveRequest: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#failed = reject
      // Connecting and starting count too: a server that never answers is silent as well.
      this.#lastHeard = performance.now()
      this.#watchdog = setInterval(
        () => this.#checkSilence(),
        Math.max(100, Math.min(1_000, Math.floor(this.#silenceTimeoutMs / 10))),
      )
      this.#watchdog.unref()
      const start = async () => {
        await this.#client.connect()
        const connection = (this.#client as unknown as { connection: ReplicationConnection }).connection
        this.#connection = connection
        if (this.#paused) connection.stream.pause()
        connection.once('replicationStart', () => {
          this.#lastHeard = performance.now()
          onStarted()
        })
        connection.on('copyData', ({ chunk }) => {
          this.#lastHeard = performance.now()
          try {
            if (decodeCopyData(chunk, this.#handlers)) onKeepaliveRequest()
          } catch (error) {
            this.#fail(error)
          }
        })
        // The query settles only when the session ends: the COPY BOTH stream lasts until then.
        await this.#client.query(
          `START_REPLICATION SLOT ${quoteIdent(this.slot)} LOGICAL ${formatLsn(startLsn)} ` +
            `(proto_version '1', publication_names '${quoteIdent(this.#publication).replaceAll("'", "''")}', messages 'true')`,
        )
      }
      start().then(
        () => {
          clearInterval(this.#watchdog)
          resolve()
        },
        (error: unknown) => {
          clearInterval(this.#watchdog)
          if (this.#stopping) resolve()
          else reject(classify(error, this.slot))
        },
      )
    })
  }

  /**
   * Send a standby status update confirming exactly `position` (written = flushed = applied). Resolves
   * once it is written to the socket; rejects when the connection cannot take it.
   */
  confirm(position: Lsn, replyRequested = false): Promise<void> {
    const stream = this.#connection?.stream
    if (!stream?.writable)
      return Promise.reject(new FactlibError('REPLICATION_CLOSED', 'the replication connection is closed'))
    const update = standbyStatusUpdate(position, replyRequested)
    const frame = Buffer.allocUnsafe(5 + update.length)
    frame[0] = 0x64 // CopyData
    frame.writeInt32BE(4 + update.length, 1)
    update.copy(frame, 5)
    return new Promise((resolve, reject) =>
      stream.write(frame, (error) => (error ? reject(error) : resolve())),
    )
  }

  /**
   * Stop reading from the socket: the server's sends back up, our status updates still go out. The
   * server's silence is then expected, so it does not count towards the replication timeout.
   */
  pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.#connection?.stream.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#lastHeard = performance.now()
    this.#connection?.stream.resume()
  }

  get paused(): boolean {
    return this.#paused
  }

  /** End the session (the replication connection is closed). */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#watchdog)
    await this.#client.end().catch(() => {})
  }

  /**
   * While reading, the server sends something at least every `wal_sender_timeout / 2` on its own and
   * answers every status update that requests a reply: silence longer than the timeout is a dead link.
   * The socket is destroyed, not ended: a goodbye on a silent link would wait for ever.
   */
  #checkSilence(): void {
    const now = performance.now()
    if (this.#paused) {
      this.#lastHeard = now
      return
    }
    const silentMs = now - this.#lastHeard
    if (silentMs < this.#silenceTimeoutMs) return
    clearInterval(this.#watchdog)
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`
    const error = new FactlibError(
      'REPLICATION_TIMEOUT',
      `nothing received from PostgreSQL for ${seconds(silentMs)} (FACTLIB_REPLICATION_TIMEOUT is ` +
        `${seconds(this.#silenceTimeoutMs)}): the network path is silent; dropping the connection`,
      { retriable: true },
    )
    ;(this.#client as unknown as { connection: ReplicationConnection }).connection.stream.destroy()
    this.#fail(error)
  }

  #fail(error: unknown): void {
    clearInterval(this.#watchdog)
    if (this.#stopping) return
    this.#log.debug('replication stream error', { error })
    const failed = this.#failed
    this.#failed = undefined
    failed?.(classify(error, this.slot))
    // A decoding error leaves the connection open; nothing more may be read from it.
    void this.#client.end().catch(() => {})
  }
}

/** PostgreSQL's `object_in_use`: `replication slot "…" is active for PID …`. */
const OBJECT_IN_USE = '55006'

function classify(error: unknown, slot: string): unknown {
  return errorFields(error)?.code === OBJECT_IN_USE ? new SlotBusyError(slot, error) : error
}
