import { FactlibError } from '@factlib/emit'
import pg from 'pg'
import { formatLsn, type Lsn, parseLsn } from './lsn.js'
import { quoteIdent } from './prerequisites.js'

/** PostgreSQL 17 is the first to synchronize a logical slot to a physical standby (`failover = true`). */
export const FAILOVER_SLOTS_SINCE = 170_000

/** Whether a server of this `server_version_num` can keep a logical slot through a standby's promotion. */
export function failoverSlotsSupported(serverVersion: number): boolean {
  return serverVersion >= FAILOVER_SLOTS_SINCE
}

/**
 * The database the client is connected to, and whether the relay's slot there is a failover slot: asked
 * for (`FACTLIB_SLOT_FAILOVER`) and possible (PostgreSQL 17+).
 */
export async function failoverHere(
  client: pg.ClientBase,
  slotFailover: boolean,
): Promise<{ database: string | undefined; failover: boolean }> {
  const { rows } = await client.query<{ database: string; version: number }>(
    `select current_database() as database, current_setting('server_version_num')::int as version`,
  )
  return {
    database: rows[0]?.database,
    failover: slotFailover && failoverSlotsSupported(rows[0]?.version ?? 0),
  }
}

/**
 * Turn failover on for an existing slot, in place (`ALTER_REPLICATION_SLOT … (FAILOVER true)`, PostgreSQL
 * 17+). PostgreSQL offers this only as a replication command, hence the replication connection. The command
 * waits for as long as another reader holds the slot, so it is cancelled after `timeoutMs`; call it only for
 * a slot that is not active.
 */
export async function enableSlotFailover(
  databaseUrl: string,
  slot: string,
  timeoutMs = 5_000,
): Promise<void> {
  await withReplicationConnection(databaseUrl, async (client) => {
    const pid = (client as unknown as { processID: number | null }).processID
    let cancelled = false
    const timer = setTimeout(() => {
      cancelled = true
      void cancelBackend(databaseUrl, pid)
    }, timeoutMs)
    try {
      await client.query(`ALTER_REPLICATION_SLOT ${quoteIdent(slot)} (FAILOVER true)`)
    } catch (error) {
      if (!cancelled) throw error
      throw new Error(`replication slot "${slot}" was taken by another reader while being changed`, {
        cause: error,
      })
    } finally {
      clearTimeout(timer)
    }
  })
}

/** Where this server's history forked off: the timeline it runs on and the WAL position that timeline began at. */
export interface Promotion {
  timeline: number
  /** Where the server left its previous timeline: the end of the WAL it had replayed when it was promoted. */
  at: Lsn
}

/**
 * The promotion this server's current timeline began with, or `undefined` while it is still on timeline 1
 * (never promoted nor restored to a point in time). Read with `IDENTIFY_SYSTEM` and `TIMELINE_HISTORY` over
 * a replication connection, which every role the relay runs as may open.
 */
export async function readPromotion(databaseUrl: string): Promise<Promotion | undefined> {
  return withReplicationConnection(databaseUrl, async (client) => {
    const identity = await client.query<{ timeline: string | number }>('IDENTIFY_SYSTEM')
    const timeline = Number(identity.rows[0]?.timeline ?? 1)
    if (timeline <= 1) return undefined
    const history = await client.query<{ content: Buffer | string }>(`TIMELINE_HISTORY ${timeline}`)
    const content = history.rows[0]?.content
    // Each line is `<parent timeline>\t<switch point>\t<reason>`; the last one is where this timeline began.
    const lines = String(content ?? '')
      .split('\n')
      .filter((line) => /^\d+\t/.test(line))
    const switchPoint = lines.at(-1)?.split('\t')[1]
    return { timeline, at: switchPoint ? parseLsn(switchPoint) : 0n }
  })
}

/** What a relay can tell about the position it had confirmed before the slot went missing. */
export interface MissingSlotContext {
  databaseUrl: string
  slot: string
  publication: string
  /** The position this relay last confirmed, when it was running on the slot before it went missing. */
  lastConfirmed?: Lsn | undefined
}

/**
 * The slot is missing while its publication exists (`SLOT_MISSING`): it was dropped, invalidated and
 * removed, or lost in a failover to a standby it was not synchronized to. When the server was promoted
 * `promotion` says where, and the message says what was lost and what to do (`runbook`).
 */
export class SlotMissingError extends FactlibError {
  override readonly name = 'SlotMissingError'
  declare readonly slot: string
  declare readonly publication: string
  /** Set when the server runs on a timeline it was promoted to: the likeliest way the slot was lost. */
  declare readonly promotion: Promotion | undefined
  /** The last position the relay confirmed before the slot went missing, when it was running. */
  declare readonly lastConfirmed: Lsn | undefined
  /** What to do, in one line. */
  declare readonly runbook: string

  constructor(context: MissingSlotContext, promotion: Promotion | undefined) {
    const runbook = promotion
      ? 'Runbook: rebuild, for consumers, what the facts committed after the highest factlib-lsn header in ' +
        'Kafka would have told them (from the source tables, or by re-snapshotting), then start the relay once ' +
        'with FACTLIB_CREATE_SLOT=force to continue from now. To keep the slot through the next failover: ' +
        'PostgreSQL ≥ 17, FACTLIB_SLOT_FAILOVER=true, synchronized_standby_slots on the primary and ' +
        'sync_replication_slots = on on the standby (the relay README, "Primary failover").'
      : 'Runbook: check pg_replication_slots and the server logs for why; to create a new slot and continue ' +
        'from now, start the relay once with FACTLIB_CREATE_SLOT=force (facts committed meanwhile are not relayed).'
    super('SLOT_MISSING', `${SlotMissingError.#what(context, promotion)} ${runbook}`)
    this.slot = context.slot
    this.publication = context.publication
    this.promotion = promotion
    this.lastConfirmed = context.lastConfirmed
    this.runbook = runbook
  }

  static #what(context: MissingSlotContext, promotion: Promotion | undefined): string {
    const { slot, publication, lastConfirmed } = context
    const confirmed = lastConfirmed === undefined ? undefined : formatLsn(lastConfirmed)
    if (!promotion)
      return confirmed === undefined
        ? `publication "${publication}" exists but replication slot "${slot}" does not: the slot was dropped ` +
            'or lost, and facts committed since then may never be relayed.'
        : `replication slot "${slot}" disappeared while the relay was running (it had confirmed up to ` +
            `${confirmed}); facts committed after that may never be relayed.`
    const after =
      lastConfirmed !== undefined && promotion.at >= lastConfirmed
        ? `, after this relay last confirmed ${confirmed} on the previous primary`
        : ''
    return (
      `publication "${publication}" exists but replication slot "${slot}" does not: this server was promoted ` +
      `from a standby (timeline ${promotion.timeline}, which began at ${formatLsn(promotion.at)}${after}), ` +
      'and the slot was not synchronized to it (created without failover = true, FACTLIB_SLOT_FAILOVER=false, ' +
      'PostgreSQL < 17, or a standby without sync_replication_slots = on). ' +
      `Lost: every fact committed after ${confirmed ?? "the relay's last confirmed position"} that the relay ` +
      'had not published before the old primary went away (the highest factlib-lsn header in Kafka marks how ' +
      "far it got): those committed before the promotion are in this server's WAL, but no new slot can read " +
      'back to them, and those committed since are kept for no slot.'
    )
  }
}

/**
 * The error for a slot that is missing although its publication exists: {@link SlotMissingError}, saying
 * whether the server was promoted (a failover without a failover slot) — or, when the server is itself a
 * standby still in recovery, a retriable `SERVER_IN_RECOVERY` (the endpoint may not have switched yet).
 */
export async function missingSlotError(
  client: pg.ClientBase,
  context: MissingSlotContext,
): Promise<FactlibError> {
  const { rows } = await client.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery')
  if (rows[0]?.recovery)
    return new FactlibError(
      'SERVER_IN_RECOVERY',
      `DATABASE_URL reaches a standby still in recovery, which has no usable replication slot "${context.slot}": ` +
        'point it at the primary, or promote this standby (during a failover the endpoint may not have switched yet)',
      { retriable: true },
    )
  const promotion = await readPromotion(context.databaseUrl).catch(() => undefined)
  return new SlotMissingError(context, promotion)
}

/** Cancel what a server process runs, from a connection of its own (the role may signal its own backends). */
async function cancelBackend(databaseUrl: string, pid: number | null): Promise<void> {
  if (pid === null) return
  const client = new pg.Client({ connectionString: databaseUrl })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('select pg_cancel_backend($1)', [pid])
  } catch {
    // The command ends anyway once the other reader releases the slot.
  } finally {
    await client.end().catch(() => {})
  }
}

async function withReplicationConnection<T>(
  databaseUrl: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, replication: 'database' } as pg.ClientConfig)
  // A server that goes away mid-command must not crash the process through an unhandled 'error'.
  client.on('error', () => {})
  try {
    await client.connect()
    return await work(client)
  } finally {
    await client.end().catch(() => {})
  }
}
