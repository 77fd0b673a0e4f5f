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
  ) {}

  /** Why the relay is not ready; empty when it is. */
  notReady(): string[] {
    const reasons: string[] = []
    if (this.phase === 'lost') reasons.push(`replication slot "${this.slot}" is lost (wal_status = lost)`)
    else if (this.phase === 'standby') reasons.push(`standby: ${this.standbyReason}`)
    else if (this.phase !== 'streaming') reasons.push(`not streaming slot "${this.slot}" (${this.phase})`)
    const readiness = this.sink.readiness()
    if (!readiness.ready) reasons.push(readiness.reason)
    return reasons
  }

  /** Age of the oldest transaction read but not yet confirmed, in seconds; 0 when none. */
  lagSeconds(): number {
    const oldest = this.session?.pipeline.confirmations.oldestUnconfirmedCommitTime
    return oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000)
  }

  status(): RelayStatus {
    return {
      state: this.phase,
      slot: this.slot,
      confirmedLsn: this.confirmed === undefined ? null : formatLsn(this.confirmed),
      ...this.metrics.totals(),
      slotLagBytes: this.metrics.slotLagBytes,
      slotLagSeconds: this.lagSeconds(),
      inflightBytes: this.metrics.inflightBytes,
    }
  }
}
