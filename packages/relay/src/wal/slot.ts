import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import type { Logger } from '../observability/log.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { enableSlotFailover, failoverHere, missingSlotError } from './failover.js'
import { type Lsn, parseLsn } from './lsn.js'
import { quoteIdent } from './prerequisites.js'

// SQLSTATEs: no free replication slot; the publication exists already (a racing relay created it).
const CONFIGURATION_LIMIT_EXCEEDED = '53400'
const DUPLICATE_OBJECT = '42710'

/** The slot as PostgreSQL reports it. */
export interface SlotState {
  plugin: string
  database: string
  confirmedFlushLsn: Lsn
  /** `reserved`, `extended`, `unreserved` or `lost`. */
  walStatus: string | null
  /** Bytes of WAL that can still be written before the slot is invalidated; null when unlimited. */
  safeWalSize: number | null
  activePid: number | null
  /** `pg_current_wal_lsn() - confirmed_flush_lsn`. */
  lagBytes: number
  /** Whether PostgreSQL synchronizes the slot to standbys (`failover`); null before PostgreSQL 17. */
  failover: boolean | null
}

/** The slot's WAL is gone (`wal_status = lost`): facts committed since it fell behind are lost. */
export class SlotLostError extends FactlibError {
  override readonly name = 'SlotLostError'
  constructor(slot: string) {
    super(
      'SLOT_LOST',
      `replication slot "${slot}" was invalidated (wal_status = lost): PostgreSQL removed WAL it still needed, so ` +
        'facts committed while the relay was behind are lost. Find out why it fell behind (max_slot_wal_keep_size, ' +
        'idle_replication_slot_timeout), then drop the slot and start with FACTLIB_CREATE_SLOT=force to continue.',
    )
  }
}

/** Read the slot, or `undefined` when it does not exist. */
export async function readSlot(client: pg.ClientBase, slot: string): Promise<SlotState | undefined> {
  const { rows } = await client.query<{
    plugin: string
    database: string
    confirmed_flush_lsn: string | null
    wal_status: string | null
    safe_wal_size: string | null
    active_pid: number | null
    lag_bytes: string | null
    failover: boolean | null
  }>(
    // to_jsonb reads `failover` where the column exists (PostgreSQL 17+) and gives null before.
    `select plugin, database, confirmed_flush_lsn::text, wal_status, safe_wal_size::text, active_pid,
            (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag_bytes,
            (to_jsonb(s) ->> 'failover')::boolean as failover
       from pg_replication_slots s where slot_name = $1`,
    [slot],
  )
  const row = rows[0]
  if (!row) return undefined
  return {
    plugin: row.plugin,
    database: row.database,
    confirmedFlushLsn: row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : 0n,
    walStatus: row.wal_status,
    safeWalSize: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
    activePid: row.active_pid,
    lagBytes: Number(row.lag_bytes ?? 0),
    failover: row.failover,
  }
}

/**
 * The SQL that creates what the relay needs, for `factlib setup --dry-run` and error messages; `failover`
 * makes a slot PostgreSQL 17+ synchronizes to standbys.
 */
export function setupSql(slot: string, publication: string, failover = false): string[] {
  return [
    `CREATE PUBLICATION ${quoteIdent(publication)};`,
    `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput'${failover ? ', failover => true' : ''});`,
  ]
}

/** Where the slot lives and how it is made: what {@link ensureSlot} and `factlib setup` need. */
export interface SlotOptions {
  databaseUrl: string
  slot: string
  publication: string
  createSlot: 'true' | 'false' | 'force'
  /** Create the slot with failover (PostgreSQL 17+), and turn it on for an existing slot. */
  slotFailover: boolean
}

/**
 * Make sure the publication and the slot exist, following the lifecycle rules:
 *
 * - neither exists: first setup, create the publication, then the slot;
 * - the publication exists but the slot does not: the slot was dropped or lost and facts may be gone —
 *   refuse unless `createSlot` is `force`;
 * - `createSlot` is `false`: never create anything, fail with the SQL to run.
 *
 * With `slotFailover` on PostgreSQL 17+ the slot is created with failover, and an existing slot without it
 * is changed in place, so that a standby running `sync_replication_slots` keeps it through a promotion.
 * A session advisory lock makes a second relay racing through first setup wait, then find both.
 */
export async function ensureSlot(
  client: pg.ClientBase,
  options: SlotOptions,
  log: Logger,
): Promise<SlotState> {
  const { slot, publication, createSlot } = options
  await client.query('select pg_advisory_lock(hashtext($1))', [`factlib:${slot}`])
  try {
    const { database, failover } = await failoverHere(client, options.slotFailover)
    const hasPublication =
      (await client.query('select 1 from pg_publication where pubname = $1', [publication])).rowCount === 1
    let state = await readSlot(client, slot)

    if (state) {
      if (state.plugin !== 'pgoutput')
        throw new FactlibError(
          'SLOT_PLUGIN',
          `replication slot "${slot}" uses the ${state.plugin} plugin; the relay needs pgoutput. Choose another ` +
            'FACTLIB_SLOT, or drop that slot if nothing else uses it.',
        )
      if (state.database !== database)
        throw new FactlibError(
          'SLOT_DATABASE',
          `replication slot "${slot}" belongs to database "${state.database}", but DATABASE_URL names "${database}"`,
        )
      if (state.walStatus === 'lost') throw new SlotLostError(slot)
      if (!hasPublication) {
        if (createSlot === 'false') throw missing(`publication "${publication}"`, options, failover)
        await createPublication(client, publication)
        log.info('created the publication', { publication })
      }
      if (failover && state.failover === false) state = await turnOnFailover(options, state, log)
      return state
    }

    if (createSlot === 'false') throw missing(`replication slot "${slot}"`, options, failover)
    if (hasPublication && createSlot !== 'force') throw await missingSlotError(client, options)
    if (!hasPublication) {
      await createPublication(client, publication)
      log.info('created the publication', { publication })
    } else log.warn('creating a new slot for an existing publication (FACTLIB_CREATE_SLOT=force)', { slot })
    // Before PostgreSQL 17 the function has no failover argument at all.
    await client
      .query(
        `select pg_create_logical_replication_slot($1, 'pgoutput'${failover ? ', failover => true' : ''})`,
        [slot],
      )
      .catch((error: unknown) => {
        if (!(error instanceof Error) || errorFields(error)?.code !== CONFIGURATION_LIMIT_EXCEEDED)
          throw error
        throw new FactlibError(
          'SLOT_LIMIT',
          `cannot create replication slot "${slot}": ${error.message}. Drop slots nobody reads ` +
            '(SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots ' +
            '(and max_wal_senders) and restart PostgreSQL; factlib doctor shows the headroom.',
          { cause: error },
        )
      })
    log.info('created the replication slot', { slot, failover })
    state = await readSlot(client, slot)
    if (!state) throw new Error(`replication slot "${slot}" vanished right after it was created`)
    return state
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [`factlib:${slot}`]).catch(() => {})
  }
}

async function createPublication(client: pg.ClientBase, publication: string): Promise<void> {
  await client.query(`create publication ${quoteIdent(publication)}`).catch((error: unknown) => {
    if (errorFields(error)?.code !== DUPLICATE_OBJECT) throw error
  })
}

/**
 * An existing slot made to survive a promotion. PostgreSQL changes a slot only while nobody reads it (the
 * command waits otherwise), so a slot held by another reader is left as it is, with a warning: a failure
 * here is no reason to stop relaying.
 */
async function turnOnFailover(options: SlotOptions, state: SlotState, log: Logger): Promise<SlotState> {
  const { slot } = options
  const warn = (reason: string) =>
    log.warn('could not turn failover on for the replication slot; a promoted standby would not have it', {
      slot,
      error: reason,
      fix: `restart the relay once nothing else reads the slot, or over a replication connection: ALTER_REPLICATION_SLOT ${quoteIdent(slot)} (FAILOVER true)`,
    })
  // Typically another relay holds the slot (a hot standby pair); it turns failover on itself when it starts.
  if (state.activePid !== null) {
    warn(`replication slot "${slot}" is active for PID ${state.activePid}`)
    return state
  }
  try {
    await enableSlotFailover(options.databaseUrl, slot)
    log.info('turned failover on for the replication slot: standbys with sync_replication_slots keep it', {
      slot,
    })
    return { ...state, failover: true }
  } catch (error) {
    warn(errorMessage(error))
    return state
  }
}

function missing(what: string, options: SlotOptions, failover: boolean): FactlibError {
  return new FactlibError(
    'SLOT_NOT_SET_UP',
    `${what} does not exist and FACTLIB_CREATE_SLOT=false forbids creating it. Run \`factlib setup\`, or as a ` +
      `privileged role:\n  ${setupSql(options.slot, options.publication, failover).join('\n  ')}`,
  )
}
