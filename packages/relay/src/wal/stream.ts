import { FactlibError } from '@factlib/emit'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'
import type { Logger } from '../observability/log.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { acknowledgeArgument } from './confirmations.js'
import { formatLsn, type Lsn, parseLsn } from './lsn.js'

/** What the replication stream delivers, in WAL order, synchronously as it is read. */
export interface StreamHandlers {
  begin(commitLsn: Lsn, commitTime: number): void
  /** `content` is the handler's own copy: it stays valid after the handler returns. */
  message(message: { transactional: boolean; lsn: Lsn; prefix: string; content: Uint8Array }): void
  commit(commitEndLsn: Lsn): void
  keepalive(walEnd: Lsn): void
}

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

/**
 * One logical replication session on a slot with pgoutput (`messages 'true'`), on top of
 * `pg-logical-replication`. It decodes nothing itself but hands each protocol message to the handlers,
 * lets the caller stop reading (backpressure), and sends standby status updates for a given position.
 */
export class ReplicationStream {
  readonly #service: LogicalReplicationService
  readonly #plugin: PgoutputPlugin
  readonly #log: Logger
  #failed: ((error: unknown) => void) | undefined
  #paused = false

  constructor(
    databaseUrl: string,
    readonly slot: string,
    publication: string,
    handlers: StreamHandlers,
    log: Logger,
  ) {
    this.#log = log
    // Status updates are ours alone: the library's own timer would confirm the last *received* position.
    this.#service = new LogicalReplicationService(
      { connectionString: databaseUrl },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    )
    this.#plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true })
    this.#service.on('data', (_lsn: string, message: PgoutputMessage) => {
      try {
        switch (message.tag) {
          case 'begin':
            handlers.begin(parseLsn(message.commitLsn), Number(message.commitTime / 1000n))
            break
          case 'message':
            handlers.message({
              transactional: message.transactional,
              lsn: parseLsn(message.messageLsn),
              prefix: message.prefix,
              // The library hands out a view into the driver's read buffer, which later reads overwrite.
              content: Buffer.from(message.content),
            })
            break
          case 'commit':
            handlers.commit(parseLsn(message.commitEndLsn))
            break
          default:
            // Only messages: the publication has no tables. Relation/type records are ignored.
            break
        }
      } catch (error) {
        this.#fail(error)
      }
    })
    this.#service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      try {
        handlers.keepalive(parseLsn(lsn))
        if (shouldRespond) this.#onKeepaliveRequest?.()
      } catch (error) {
        this.#fail(error)
      }
    })
    this.#service.on('error', (error: unknown) => this.#fail(error))
  }

  /** Called when the server asks for a status update right away. */
  #onKeepaliveRequest: (() => void) | undefined

  /**
   * Stream from `startLsn` (the slot's freshly read `confirmed_flush_lsn`, never a last-received position)
   * until {@link stop} or an error. Resolves once the stream ends after `stop()`; rejects on any error,
   * with {@link SlotBusyError} when another reader holds the slot.
   */
  run(startLsn: Lsn, onStarted: () => void, onKeepaliveRequest: () => void): Promise<void> {
    this.#onKeepaliveRequest = onKeepaliveRequest
    return new Promise<void>((resolve, reject) => {
      this.#failed = reject
      this.#service.once('start', onStarted)
      this.#service.subscribe(this.#plugin, this.slot, formatLsn(startLsn)).then(
        () => resolve(),
        (error: unknown) => reject(classify(error, this.slot)),
      )
    })
  }

  /** Send a standby status update confirming exactly `position` (written = flushed = applied). */
  async confirm(position: Lsn): Promise<void> {
    await this.#service.acknowledge(acknowledgeArgument(position))
  }

  /** Stop reading from the socket: the server's sends back up, our status updates still go out. */
  pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.#socket()?.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#socket()?.resume()
  }

  get paused(): boolean {
    return this.#paused
  }

  /** End the session (the replication connection is closed). */
  async stop(): Promise<void> {
    await this.#service.destroy()
  }

  #fail(error: unknown): void {
    this.#log.debug('replication stream error', { error })
    const failed = this.#failed
    this.#failed = undefined
    failed?.(classify(error, this.slot))
  }

  #socket(): { pause(): void; resume(): void } | undefined {
    // pg-logical-replication keeps the driver's connection private; its socket is the only way to stop
    // reading without its per-message flow control, which would cap throughput.
    const connection = (
      this.#service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } }
    )._connection
    return connection?.stream
  }
}

/** PostgreSQL's `object_in_use`: `replication slot "…" is active for PID …`. */
const OBJECT_IN_USE = '55006'

function classify(error: unknown, slot: string): unknown {
  return errorFields(error)?.code === OBJECT_IN_USE ? new SlotBusyError(slot, error) : error
}

type PgoutputMessage =
  | { tag: 'begin'; commitLsn: string; commitTime: bigint; xid: number }
  | { tag: 'message'; transactional: boolean; messageLsn: string; prefix: string; content: Uint8Array }
  | { tag: 'commit'; commitLsn: string; commitEndLsn: string; commitTime: bigint }
  | { tag: 'relation' | 'type' | 'origin' | 'insert' | 'update' | 'delete' | 'truncate' }
