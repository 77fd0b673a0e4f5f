import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { Backoff, sleep } from '../util/retry.js'
import { missingSlotError } from '../wal/failover.js'
import type { Lsn } from '../wal/lsn.js'
import { readSlot, SlotLostError } from '../wal/slot.js'
import { SlotBusyError } from '../wal/stream.js'
import type { RelayState } from './relay-state.js'
import { Session, type SessionSettings } from './session.js'

/** What the session loop needs besides what each session is made with. */
export interface SessionLoopSettings extends SessionSettings {
  /** Connections for reading the slot's state; never used for replication. */
  admin: pg.Pool
  /** How long a hot standby waits before it tries the slot again. */
  standbyRetryMs: number
  /** Aborts when the relay stops: no new session starts and waits end at once. */
  signal: AbortSignal
}

/**
 * Replication sessions one after another until `signal` aborts. While another relay holds the slot this
 * one waits as a hot standby and tries again every `standbyRetryMs`; after any other failure it reconnects
 * with capped, jittered backoff. Rejects only when the slot is missing or lost: its facts may be gone, so
 * retrying would hide that.
 */
export async function runSessions(settings: SessionLoopSettings, state: RelayState): Promise<void> {
  const { log, metrics, signal } = settings
  // Soon after a blip (0.5–1 s), then doubling to 30 s so a database that is down is not hammered.
  const backoff = new Backoff({ initialRetryTime: 750, maxRetryTime: 30_000, factor: 1 / 3 })
  while (!signal.aborted) {
    try {
      const startLsn = await usableSlotPosition(settings, state.confirmed)
      // Stopped while reading the slot: shutdown saw no session to end, so none may start now.
      if (signal.aborted) return
      if (state.phase !== 'standby') state.phase = 'connecting'
      const session = new Session(startLsn, settings, state)
      state.session = session
      try {
        await session.run()
      } finally {
        state.session = undefined
        // A session that streamed was healthy: the next failure starts the backoff from its beginning
        // rather than after days of streaming at the delay of failures long past.
        if (session.streamed) backoff.reset()
      }
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof SlotLostError) {
        state.phase = 'lost'
        metrics.walStatus = 'lost'
        throw error
      }
      if (error instanceof FactlibError && error.code === 'SLOT_MISSING') throw error
      if (error instanceof SlotBusyError) {
        if (state.phase !== 'standby')
          log.info('another relay holds the slot; waiting as a hot standby', { reason: error.message })
        state.phase = 'standby'
        state.standbyReason = error.message
        // Another relay delivers the slot now: a batch this one abandoned is no longer its stall.
        metrics.sinkStall.reset()
        await sleep(settings.standbyRetryMs, signal)
        continue
      }
      state.phase = 'connecting'
      const delay = backoff.next()
      log.warn('replication session ended; reconnecting', {
        error: errorMessage(error),
        code: errorFields(error)?.code,
        retryInMs: delay,
      })
      await sleep(delay, signal)
    }
  }
}

/**
 * Where a session starts: the slot's freshly read confirmed position, unless the slot is missing (saying
 * whether a failover to a standby without the slot lost it) or lost.
 */
export async function usableSlotPosition(
  settings: SessionLoopSettings,
  lastConfirmed: Lsn | undefined,
): Promise<Lsn> {
  const { config } = settings
  const client = await settings.admin.connect()
  try {
    const slot = await readSlot(client, config.slot)
    if (!slot) throw await missingSlotError(client, { ...config, lastConfirmed })
    if (slot.walStatus === 'lost') throw new SlotLostError(config.slot)
    return slot.confirmedFlushLsn
  } finally {
    client.release()
  }
}
