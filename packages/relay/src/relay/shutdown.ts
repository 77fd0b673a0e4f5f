import type pg from 'pg'
import type { HttpServer } from '../observability/http.js'
import type { Logger } from '../observability/log.js'
import type { Sink } from '../sinks/sink.js'
import { withTimeout } from '../util/timeout.js'
import { formatLsn } from '../wal/lsn.js'
import type { RelayState } from './relay-state.js'
import type { Session } from './session.js'

/** Everything a running relay holds open, and how it ends each. */
export interface RunningParts {
  state: RelayState
  log: Logger
  shutdownTimeoutMs: number
  /** Aborted first: no session starts any more and the loop's waits end. */
  stopping: AbortController
  /** Settles once the session loop has ended. */
  sessionsDone: Promise<void>
  stopMonitor: () => void
  stopEmf: (() => void) | undefined
  sink: Sink
  admin: pg.Pool
  http: HttpServer
}

/**
 * Graceful stop: stop reading, let what is in flight reach the sink within the deadline, confirm what was
 * delivered, then close everything. Resolves with the exit code: 0 when everything read was delivered and
 * confirmed and nothing fatal happened, 1 otherwise.
 */
export async function shutdown(parts: RunningParts): Promise<number> {
  const { state, log } = parts
  const started = Date.now()
  if (state.phase !== 'lost') state.phase = 'stopping'
  parts.stopping.abort()
  const drained = state.session ? await finishSession(state.session, parts) : true
  await parts.sessionsDone
  parts.stopMonitor()
  parts.stopEmf?.()
  await parts.sink.close().catch((error: unknown) => log.warn('closing the sink failed', { error }))
  await parts.admin.end().catch(() => {})
  await parts.http.close()
  const code = state.fatal === undefined && drained ? 0 : 1
  log.info('relay stopped', {
    exitCode: code,
    confirmed: state.confirmed === undefined ? null : formatLsn(state.confirmed),
    tookMs: Date.now() - started,
  })
  return code
}

/** End the session under way; `false` when facts were still in flight at the deadline. */
async function finishSession(session: Session, parts: RunningParts): Promise<boolean> {
  // A lost slot has nothing left worth delivering: its WAL is gone, so do not wait for the sink.
  if (parts.state.phase === 'lost') {
    await session.pipeline.abort()
    await session.stop()
    return true
  }
  // hold(), not pause(): the sink catching up must not resume reading while the relay stops.
  session.hold()
  const drained = await withTimeout(
    session.pipeline.drain(),
    parts.shutdownTimeoutMs,
    () => new Error('shutdown deadline'),
  ).then(
    () => true,
    () => false,
  )
  if (!drained)
    parts.log.warn('shutdown deadline reached with facts in flight; they will be relayed again after restart')
  // What did not go out stays unconfirmed: PostgreSQL sends it again, and the log reports what it has.
  await session.confirm().catch(() => {})
  await session.stop()
  return drained
}
