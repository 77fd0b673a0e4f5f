import type { Logger } from '../observability/log.js'
import type { RelayState } from './relay-state.js'

/**
 * Log a sink stall once when it passes `FACTLIB_STALL_SECONDS` and once when the sink acknowledges again,
 * checking every `intervalMs`; /readyz, /metrics and `factlib status` report it all along. Returns what ends
 * the timer.
 */
export function watchSinkStall(state: RelayState, log: Logger, intervalMs = 1_000): () => void {
  const stall = state.metrics.sinkStall
  /** The stall that was logged: when it began, and the sink's acknowledgements then. */
  let logged: { since: number; acknowledgements: number } | undefined
  const timer = setInterval(() => {
    const seconds = stall.seconds()
    const since = stall.since()
    if (logged === undefined && since !== undefined && seconds > state.stallSeconds) {
      logged = { since, acknowledgements: stall.acknowledgements }
      log.error('the sink is stalled: no batch acknowledged; every source waits behind it', {
        sink: state.sink.kind,
        stalledSeconds: Math.floor(seconds),
        lastErrorKind: stall.errorKind() ?? null,
        stallSeconds: state.stallSeconds,
      })
    } else if (logged !== undefined && stall.acknowledgements !== logged.acknowledgements) {
      log.info('the sink acknowledges again', {
        sink: state.sink.kind,
        stalledSeconds: Math.round((Date.now() - logged.since) / 100) / 10,
      })
      logged = undefined
    }
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
