import type { RelayMetrics } from '../observability/metrics.js'
import type { Sink } from '../sinks/sink.js'
import { formatLsn, type Lsn } from '../wal/lsn.js'
import type { Session } from './session.js'

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
  /** Seconds since the oldest batch the sink has not acknowledged was first handed to it; 0 when none. */
  sinkStallSeconds: number
  /** The kind of the sink's last failed attempt during that time; null when it reported none. */
  sinkErrorKind: string | null
  /** Whether that is longer than `FACTLIB_STALL_SECONDS` (the relay is then not ready). */
  sinkStalled: boolean
}

/**
 * What the parts of a running relay share, and what its endpoints and logs report from it: the phase it
 * is in, the session under way, the position PostgreSQL has confirmed, and the error that ends it.
 */
export class RelayState {
  phase: RelayStatus['state'] = 'starting'
  /** Why the relay waits, while `phase` is `standby`. */
  standbyReason = ''
  session: Session | undefined
  /** Set when a session starts (the slot's own position) and by each status update that was sent. */
  confirmed: Lsn | undefined
  /** What ended the relay when it did not stop cleanly: the exit code is then 1. */
  fatal: unknown

  constructor(
    readonly slot: string,
    readonly sink: Sink,
    readonly metrics: RelayMetrics,
    /** `FACTLIB_STALL_SECONDS`: a batch with the sink for longer than this is a stall. */
    readonly stallSeconds: number,
  ) {}

  /** Why the relay is not ready; empty when it is. */
  notReady(): string[] {
    const reasons: string[] = []
    if (this.phase === 'lost') reasons.push(`replication slot "${this.slot}" is lost (wal_status = lost)`)
    else if (this.phase === 'standby') reasons.push(`standby: ${this.standbyReason}`)
    else if (this.phase !== 'streaming') reasons.push(`not streaming slot "${this.slot}" (${this.phase})`)
    const readiness = this.sink.readiness()
    if (!readiness.ready) reasons.push(readiness.reason)
    const stall = this.metrics.sinkStall
    const seconds = stall.seconds()
    if (seconds > this.stallSeconds) {
      const kind = stall.errorKind()
      reasons.push(
        `the ${this.sink.kind} sink is stalled: it has not acknowledged a batch for ${Math.floor(seconds)} s ` +
          `(FACTLIB_STALL_SECONDS is ${this.stallSeconds}); ` +
          `${kind === undefined ? 'it reported no error' : `last error: ${kind}`}. ` +
          'Every source waits behind it; nothing is skipped',
      )
    }
    return reasons
  }

  /** Age of the oldest transaction read but not yet confirmed, in seconds; 0 when none. */
  lagSeconds(): number {
    const oldest = this.session?.pipeline.confirmations.oldestUnconfirmedCommitTime
    return oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000)
  }

  status(): RelayStatus {
    const stall = this.metrics.sinkStall.seconds()
    return {
      state: this.phase,
      slot: this.slot,
      confirmedLsn: this.confirmed === undefined ? null : formatLsn(this.confirmed),
      ...this.metrics.totals(),
      slotLagBytes: this.metrics.slotLagBytes,
      slotLagSeconds: this.lagSeconds(),
      inflightBytes: this.metrics.inflightBytes,
      sinkStallSeconds: stall,
      sinkErrorKind: this.metrics.sinkStall.errorKind() ?? null,
      sinkStalled: stall > this.stallSeconds,
    }
  }
}
