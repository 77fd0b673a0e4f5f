import type { Logger } from '../observability/log.js'
import type { RelayMetrics } from '../observability/metrics.js'
import type { Sink, SinkRecord } from '../sinks/sink.js'
import { Confirmations, type Transaction } from '../wal/confirmations.js'
import { formatLsn, type Lsn } from '../wal/lsn.js'
import type { StreamHandlers } from '../wal/stream.js'
import { BatchQueue } from './batch-queue.js'
import { decodeMessage } from './decode.js'
import { type DeadLetterReason, recordSize } from './record.js'

export interface PipelineOptions {
  sink: Sink
  /** Topic template, `{source}.{aggregateType}` by default. */
  topic: string
  dlqTopic: string
  /** Sources to relay; others are skipped (and still confirmed). `undefined`: every envelope. */
  sources: ReadonlySet<string> | undefined
  /** Stop reading once this many bytes are read but not acknowledged. */
  maxInflightBytes: number
  /** Upper bounds of one batch handed to the sink. */
  maxBatchRecords?: number
  maxBatchBytes?: number
  /**
   * How long a batch waits for more facts when the sink was busy a moment ago; an idle relay sends at once.
   * @default 2
   */
  lingerMs?: number
  metrics: RelayMetrics
  log: Logger
  /** `true`: stop reading from the stream; `false`: read again. */
  onBackpressure(pause: boolean): void
  /** The confirmable position moved forward. */
  onConfirmable(position: Lsn): void
}

interface Entry {
  record: SinkRecord
  transaction: Transaction
  /** Bytes of the record on the wire (counted against a batch's byte limit). */
  bytes: number
  /** Bytes it holds in memory until acknowledged (counted against the in-flight bound). */
  memory: number
  commitTime: number
  source: string
  deadLetter: DeadLetterReason | undefined
}

/**
 * What a fact costs in memory besides its record's bytes while in flight: the record, its headers, the queue
 * entry, and the Kafka client's ~45 small Buffers per record while it encodes and waits for the answer,
 * with the garbage they leave until the next collection: ~3.9 KiB, fitted from what the relay holding its
 * bound with Kafka stopped used with 100-byte and with 1 KB facts (packages/relay/README.md, "Performance").
 * Counted only against the in-flight bound; batches fill to their byte limit with record bytes alone.
 */
const ENTRY_OVERHEAD_BYTES = 4096
/** A sink that acknowledged a batch this recently counts as busy (see `lingerMs`). */
const BUSY_WINDOW_MS = 50

/**
 * Decodes WAL messages into Kafka records and hands them to the sink in batches, in WAL order;
 * acknowledgements feed {@link Confirmations}. Facts are produced as they arrive: transactional messages
 * reach us only after their transaction committed, so nothing waits for COMMIT but the confirmation.
 *
 * Batches form by themselves: records read while a batch is in flight make the next one, so an idle relay
 * sends a fact at once and a busy one sends up to `maxBatchRecords`/`maxBatchBytes` per round trip. A sink
 * that takes several batches at once (`Sink.maxInflightSends`) gets a further batch only when a full one is
 * ready: pipelining pays off on a backlog, while a trickle still waits for an acknowledgement to gather.
 */
export class Pipeline implements StreamHandlers {
  readonly confirmations: Confirmations
  readonly #options: Required<Pick<PipelineOptions, 'maxBatchRecords' | 'maxBatchBytes' | 'lingerMs'>> &
    PipelineOptions
  readonly #queue = new BatchQueue<Entry>()
  #inflightBytes = 0
  #read = 0
  #paused = false
  /** Sends under way. */
  readonly #sending = new Set<Promise<void>>()
  #scheduled = false
  /** When the last batch was acknowledged: facts arriving soon after wait a linger for company. */
  #lastSentAt = 0
  readonly #abort = new AbortController()
  #failure: unknown
  readonly #failed: Promise<never>
  #rejectFailed: (error: unknown) => void = () => {}
  #idleWaiters: Array<() => void> = []
  #lastConfirmable: Lsn
  /** The open transaction's commit LSN (for `factlib-lsn`) and commit time. */
  #lsn = ''
  #commitTime = 0

  constructor(startLsn: Lsn, options: PipelineOptions) {
    this.confirmations = new Confirmations(startLsn)
    this.#lastConfirmable = startLsn
    this.#options = { maxBatchRecords: 5000, maxBatchBytes: 1024 * 1024, lingerMs: 2, ...options }
    this.#failed = new Promise<never>((_, reject) => {
      this.#rejectFailed = reject
    })
    this.#failed.catch(() => {})
  }

  /** Rejects if handing records to the sink failed; the session must end. */
  get failed(): Promise<never> {
    return this.#failed
  }

  get inflightBytes(): number {
    return this.#inflightBytes
  }

  /** Records read so far: facts and dead letters, not other tools' messages. */
  get recordsRead(): number {
    return this.#read
  }

  begin(commitLsn: Lsn, commitTime: number): void {
    this.confirmations.begin(commitTime)
    this.#lsn = formatLsn(commitLsn)
    this.#commitTime = commitTime
  }

  message({ transactional, lsn, prefix, content }: Parameters<StreamHandlers['message']>[0]): void {
    const options = this.#options
    // A non-transactional message belongs to no transaction: its own position stands for it.
    const origin = { source: prefix, lsn: transactional ? this.#lsn : formatLsn(lsn) }
    const decoded = decodeMessage({ transactional, prefix, content }, origin, options)
    if (decoded.foreign) {
      if (options.metrics.foreignMessage(prefix))
        options.log.info("skipping another tool's logical messages (not a configured source or envelope)", {
          prefix,
          transactional,
        })
      if (!transactional) this.confirmations.skipped(lsn)
      return
    }
    const now = Date.now()
    const transaction = transactional ? this.confirmations.fact() : this.confirmations.standalone(lsn, now)
    this.#enqueue(
      decoded.record,
      transaction,
      prefix,
      transactional ? this.#commitTime : now,
      decoded.deadLetter,
    )
  }

  commit(commitEndLsn: Lsn): void {
    this.confirmations.commit(commitEndLsn)
    this.#notifyConfirmable()
  }

  keepalive(walEnd: Lsn): void {
    this.confirmations.keepalive(walEnd)
    this.#notifyConfirmable()
  }

  /** Resolves once every record read so far is acknowledged (or the pipeline failed or was aborted). */
  drain(): Promise<void> {
    if (this.#idle()) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Stop handing records to the sink; resolves once the batches under way have settled. */
  async abort(): Promise<void> {
    this.#abort.abort()
    await Promise.all(this.#sending)
  }

  #enqueue(
    record: SinkRecord,
    transaction: Transaction,
    source: string,
    commitTime: number,
    deadLetter: DeadLetterReason | undefined,
  ): void {
    const bytes = recordSize(record)
    const memory = bytes + ENTRY_OVERHEAD_BYTES
    this.#queue.push({ record, transaction, bytes, memory, commitTime, source, deadLetter })
    this.#read += 1
    this.#inflightBytes += memory
    this.#options.metrics.inflightBytes = this.#inflightBytes
    if (!this.#paused && this.#inflightBytes >= this.#options.maxInflightBytes) {
      this.#paused = true
      this.#options.onBackpressure(true)
    }
    this.#schedule()
  }

  #pending(): number {
    return this.#queue.length
  }

  #idle(): boolean {
    return (
      (this.#pending() === 0 || this.#failure !== undefined || this.#abort.signal.aborted) &&
      this.#sending.size === 0
    )
  }

  #schedule(): void {
    if (this.#scheduled || this.#abort.signal.aborted || this.#failure !== undefined) return
    if (this.#sending.size > 0) {
      // A batch is under way: the next one goes only when the sink takes more and a full one is ready.
      if (this.#sending.size < this.#maxSends && this.#fullBatchQueued()) this.#dispatch()
      return
    }
    this.#scheduled = true
    const start = () => {
      this.#scheduled = false
      this.#dispatch()
    }
    // Idle: send once the socket chunk being parsed is in. Busy a moment ago: linger, so that a steady trickle
    // costs one request per few facts rather than one per fact.
    if (Date.now() - this.#lastSentAt < BUSY_WINDOW_MS) setTimeout(start, this.#options.lingerMs)
    else setImmediate(start)
  }

  get #maxSends(): number {
    return Math.max(1, this.#options.sink.maxInflightSends ?? 1)
  }

  #fullBatchQueued(): boolean {
    return this.#queue.full(this.#options.maxBatchRecords, this.#options.maxBatchBytes)
  }

  /** Hand batches to the sink while it takes more: the first at once, later ones only when full. */
  #dispatch(): void {
    const { maxBatchRecords, maxBatchBytes } = this.#options
    while (
      this.#pending() > 0 &&
      this.#sending.size < this.#maxSends &&
      !this.#abort.signal.aborted &&
      this.#failure === undefined &&
      (this.#sending.size === 0 || this.#fullBatchQueued())
    ) {
      const batch = this.#queue.take(maxBatchRecords, maxBatchBytes)
      const sending: Promise<void> = this.#send(batch).finally(() => {
        this.#sending.delete(sending)
        if (this.#pending() > 0) this.#schedule()
        if (this.#idle()) this.#wakeIdle()
      })
      this.#sending.add(sending)
    }
    if (this.#idle()) this.#wakeIdle()
  }

  async #send(batch: Entry[]): Promise<void> {
    const { sink, metrics } = this.#options
    // A send that does not resolve is a stall, whatever the sink: the relay reports how long it lasts.
    const handed = metrics.sinkStall.handed()
    try {
      const { deadLettered } = await sink.send(
        batch.map((entry) => entry.record),
        this.#abort.signal,
      )
      metrics.sinkStall.acknowledged(handed)
      const now = Date.now()
      this.#lastSentAt = now
      for (const entry of batch) {
        this.confirmations.acknowledge(entry.transaction)
        this.#inflightBytes -= entry.memory
        const deadLetter = entry.deadLetter ?? deadLettered.get(entry.record)
        if (deadLetter) metrics.deadLettered(deadLetter)
        else metrics.factRelayed(entry.source, Math.max(0, now - entry.commitTime) / 1000)
      }
      metrics.inflightBytes = this.#inflightBytes
      if (this.#paused && this.#inflightBytes <= this.#options.maxInflightBytes / 2) {
        this.#paused = false
        this.#options.onBackpressure(false)
      }
      this.#notifyConfirmable()
    } catch (error) {
      metrics.sinkStall.abandoned(handed)
      if (this.#abort.signal.aborted || this.#failure !== undefined) return
      this.#failure = error
      this.#options.log.error('handing records to the sink failed', { error })
      this.#rejectFailed(error)
    }
  }

  #notifyConfirmable(): void {
    const position = this.confirmations.position
    if (position > this.#lastConfirmable) {
      this.#lastConfirmable = position
      this.#options.onConfirmable(position)
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }
}
