import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import type { HttpServer } from '../observability/http.js'
import type { Pipeline } from '../pipeline/pipeline.js'
import { withTimeout } from '../util/timeout.js'
import { formatLsn, type Lsn, parseLsn } from '../wal/lsn.js'
import { SlotBusyError, type StreamHandlers } from '../wal/stream.js'
import type { RelayState } from './relay-state.js'
import { Session } from './session.js'
import { type SessionLoopSettings, usableSlotPosition } from './session-loop.js'

/** Bounds of one drain run; at a bound it stops reading, finishes and confirms what is in flight. */
export interface DrainOptions {
  /** Stop reading after this many seconds (fractions allowed). */
  maxSeconds?: number
  /**
   * Stop reading once this many records were read (facts and dead letters; other tools' messages do not
   * count): at the first commit after that, or at once after a non-transactional one. A transaction is never
   * split.
   */
  maxFacts?: number
  /** Stop reading at this time (ms since the epoch) at the latest: a deadline that counts the start-up too. */
  stopReadingAt?: number
}

/** Why a drain run stopped reading. */
export type DrainReason = 'empty' | 'target' | 'max-seconds' | 'max-facts' | 'stopped' | 'busy'

/** The exit codes of `factlib relay --drain`, fixed because schedulers and external tests read them. */
export const DRAIN_EXIT_CODES = { drained: 0, bounded: 3, busy: 4 } as const

/** What one drain run did: its one-line summary. */
export interface DrainSummary {
  /** `drained`: everything up to the target is confirmed; `bounded`: a bound (or a signal) came first. */
  outcome: keyof typeof DRAIN_EXIT_CODES
  reason: DrainReason
  exitCode: (typeof DRAIN_EXIT_CODES)[keyof typeof DRAIN_EXIT_CODES]
  /** Facts delivered (relayed or dead-lettered). */
  facts: number
  /** Bytes of the logical messages read. */
  bytes: number
  /** The slot's confirmed position when the run started, and the one it confirmed last. */
  startLsn: string
  endLsn: string
  /** `pg_current_wal_flush_lsn()` when the run started: where it stops, never a position it confirms. */
  targetLsn: string
  seconds: number
}

/** Drain runs bind no port: a scheduled run or a Lambda has no one to answer. */
export const NO_ENDPOINTS: HttpServer = { port: 0, close: async () => {} }

/**
 * One drain run: take the server's flushed WAL position as the target, stream the slot from its confirmed
 * position until a commit or a keepalive at or past the target arrived and everything before it is
 * acknowledged and confirmed (or a bound or `signal` came first), then finish what is in flight, confirm
 * it and end. Resolves `busy` at once when another reader holds the slot.
 */
export async function drainSlot(
  settings: SessionLoopSettings,
  state: RelayState,
  options: DrainOptions,
): Promise<DrainSummary> {
  const started = performance.now()
  const { metrics, log, signal } = settings
  const before = metrics.totals()
  const startLsn = await usableSlotPosition(settings, undefined)
  const { target, active } = await flushPosition(settings.admin, settings.config.slot)
  state.confirmed = startLsn
  let bytes = 0
  const summary = (reason: DrainReason): DrainSummary => {
    const totals = metrics.totals()
    const end = state.confirmed ?? startLsn
    const outcome = reason === 'busy' ? 'busy' : reason === 'empty' || end >= target ? 'drained' : 'bounded'
    return {
      outcome,
      reason,
      exitCode: DRAIN_EXIT_CODES[outcome],
      facts: totals.relayed + totals.deadLettered - before.relayed - before.deadLettered,
      bytes,
      startLsn: formatLsn(startLsn),
      endLsn: formatLsn(end),
      targetLsn: formatLsn(target),
      seconds: Math.round(performance.now() - started) / 1000,
    }
  }
  // Busy even with nothing to do: a drain scheduled beside a running relay is a mistake worth seeing.
  if (active) {
    log.info('another relay holds the slot; nothing to do', { slot: settings.config.slot })
    return summary('busy')
  }
  if (target <= startLsn) return summary('empty')
  if (signal.aborted) return summary('stopped')

  let session: Session | undefined
  const gate = new DrainGate(target, options.maxFacts, () => {
    session?.confirm(true).catch(() => {})
  })
  session = new Session(startLsn, settings, state, {
    handlers: (pipeline) => gate.attach(pipeline),
    confirmed: (position) => gate.confirmed(position),
  })
  state.session = session
  const readMs = Math.min(
    options.maxSeconds === undefined ? Number.POSITIVE_INFINITY : options.maxSeconds * 1000,
    options.stopReadingAt === undefined ? Number.POSITIVE_INFINITY : options.stopReadingAt - Date.now(),
  )
  const timer = Number.isFinite(readMs)
    ? setTimeout(() => gate.close('max-seconds'), Math.max(0, readMs))
    : undefined
  const onSignal = () => gate.close('stopped')
  signal.addEventListener('abort', onSignal)
  log.info('draining', { from: formatLsn(startLsn), target: formatLsn(target) })
  const running = session.run()
  running.catch(() => {})
  try {
    const reason = await Promise.race([running.then(() => 'stopped' as const), gate.stopped])
    log.info('drain stopped reading', { reason })
    // On a signal the relay's shutdown finishes the session (within FACTLIB_SHUTDOWN_TIMEOUT).
    if (reason === 'stopped') await running
    else await finish(session, running, settings.config.shutdownTimeoutMs)
    bytes = gate.bytes
    return summary(reason)
  } catch (error) {
    if (!(error instanceof SlotBusyError)) throw error
    log.info('another relay holds the slot; nothing to do', { reason: error.message })
    return summary('busy')
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onSignal)
    state.session = undefined
  }
}

/** Stop reading, let what is in flight reach the sink within the deadline, confirm it, close the session. */
async function finish(session: Session, running: Promise<void>, deadlineMs: number): Promise<void> {
  session.hold()
  try {
    await withTimeout(
      Promise.race([session.pipeline.drain(), running]),
      deadlineMs,
      () =>
        new FactlibError(
          'DRAIN_DEADLINE',
          `facts were still in flight after ${deadlineMs / 1000} s (FACTLIB_SHUTDOWN_TIMEOUT); ` +
            'what was not confirmed is relayed again by the next run',
        ),
    )
    // The pipeline settles idle when the sink failed too: the session then rejects with the failure.
    if (session.pipeline.confirmations.unacknowledged > 0) await running
  } finally {
    await session.confirm().catch(() => {})
    await session.stop()
  }
  await running
}

/** The server's flushed WAL position (the walsender sends nothing beyond it), and whether the slot has a reader. */
async function flushPosition(admin: pg.Pool, slot: string): Promise<{ target: Lsn; active: boolean }> {
  const { rows } = await admin.query<{ lsn: string; active: boolean | null }>(
    `select pg_current_wal_flush_lsn()::text as lsn,
       (select active from pg_replication_slots where slot_name = $1) as active`,
    [slot],
  )
  return { target: parseLsn(rows[0]?.lsn ?? '0/0'), active: rows[0]?.active === true }
}

/**
 * Stands between the stream and the pipeline of a drain run: passes messages on until the run stops
 * reading, then drops the rest (unconfirmed, so the next run receives them again), and tells when the
 * target is reached or a bound is.
 */
class DrainGate implements StreamHandlers {
  #pipeline: Pipeline | undefined
  #closed = false
  /** A keepalive at or past the target came while something was unacknowledged: ask for another later. */
  #keepaliveAtTarget = false
  bytes = 0
  #stop: (reason: DrainReason) => void = () => {}
  /** Resolves with why reading stopped. */
  readonly stopped = new Promise<DrainReason>((resolve) => {
    this.#stop = resolve
  })

  constructor(
    readonly target: Lsn,
    readonly maxFacts: number | undefined,
    readonly requestReply: () => void,
  ) {}

  attach(pipeline: Pipeline): this {
    this.#pipeline = pipeline
    return this
  }

  get #to(): Pipeline {
    if (!this.#pipeline) throw new Error('the drain gate has no pipeline')
    return this.#pipeline
  }

  begin(commitLsn: Lsn, commitTime: number): void {
    if (!this.#closed) this.#to.begin(commitLsn, commitTime)
  }

  message(message: Parameters<StreamHandlers['message']>[0]): void {
    if (this.#closed) return
    this.bytes += message.content.length
    this.#to.message(message)
    // A non-transactional message stands alone: no commit follows it to stop at.
    if (!message.transactional && this.#reachedMaxFacts()) this.close('max-facts')
  }

  #reachedMaxFacts(): boolean {
    return this.maxFacts !== undefined && this.#to.recordsRead >= this.maxFacts
  }

  commit(commitEndLsn: Lsn): void {
    if (this.#closed) return
    this.#to.commit(commitEndLsn)
    if (commitEndLsn >= this.target) this.close('target')
    // Other tools' messages on the same database are not facts: they do not count against the bound.
    else if (this.#reachedMaxFacts()) this.close('max-facts')
  }

  keepalive(walEnd: Lsn): void {
    if (this.#closed) return
    this.#to.keepalive(walEnd)
    if (walEnd < this.target) return
    if (this.#to.confirmations.position >= this.target) this.close('target')
    else this.#keepaliveAtTarget = true
  }

  /** A status update confirmed `position`. */
  confirmed(position: Lsn): void {
    if (position >= this.target) {
      this.close('target')
      return
    }
    const { confirmations } = this.#to
    if (
      this.#keepaliveAtTarget &&
      !this.#closed &&
      !confirmations.inTransaction &&
      confirmations.unacknowledged === 0
    ) {
      // Everything is delivered: a keepalive asked for now is confirmable and passes the target.
      this.#keepaliveAtTarget = false
      this.requestReply()
    }
  }

  close(reason: DrainReason): void {
    if (this.#closed) return
    this.#closed = true
    this.#stop(reason)
  }
}
