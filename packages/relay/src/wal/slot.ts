import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import type { Logger } from '../observability/log.js'
import { formatBytes } from '../util/format.js'
import { formatLsn, type Lsn, parseLsn } from './lsn.js'
import { type CheckResult, quoteIdent } from './prerequisites.js'

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
}

/** The slot's WAL is gone (`wal_status = lost`): facts committed since it fell behind are lost. */
export class SlotLostError extends FactlibError {
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
  }>(
    `select plugin, database, confirmed_flush_lsn::text, wal_status, safe_wal_size::text, active_pid,
            (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag_bytes
       from pg_replication_slots where slot_name = $1`,
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
  }
}

/** The SQL that creates what the relay needs, for `factlib setup --dry-run` and error messages. */
export function setupSql(slot: string, publication: string): string[] {
  return [
    `CREATE PUBLICATION ${quoteIdent(publication)};`,
    `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput');`,
  ]
}

/**
 * Make sure the publication and the slot exist, following the lifecycle rules:
 *
 * - neither exists: first setup, create the publication, then the slot;
 * - the publication exists but the slot does not: the slot was dropped or lost and facts may be gone —
 *   refuse unless `createSlot` is `force`;
 * - `createSlot` is `false`: never create anything, fail with the SQL to run.
 *
 * A session advisory lock makes a second relay racing through first setup wait, then find both.
 */
export async function ensureSlot(
  client: pg.ClientBase,
  options: { slot: string; publication: string; createSlot: 'true' | 'false' | 'force' },
  log: Logger,
): Promise<SlotState> {
  const { slot, publication, createSlot } = options
  await client.query('select pg_advisory_lock(hashtext($1))', [`factlib:${slot}`])
  try {
    const database = (await client.query<{ db: string }>('select current_database() as db')).rows[0]?.db
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
        if (createSlot === 'false') throw missing(`publication "${publication}"`, slot, publication)
        await createPublication(client, publication)
        log.info('created the publication', { publication })
      }
      return state
    }

    if (createSlot === 'false') throw missing(`replication slot "${slot}"`, slot, publication)
    if (hasPublication && createSlot !== 'force')
      throw new FactlibError(
        'SLOT_MISSING',
        `publication "${publication}" exists but replication slot "${slot}" does not: the slot was dropped or ` +
          'lost, and facts committed since then may never be relayed. Check pg_replication_slots and your logs; ' +
          'to create a new slot and continue from now, start once with FACTLIB_CREATE_SLOT=force.',
      )
    if (!hasPublication) {
      await createPublication(client, publication)
      log.info('created the publication', { publication })
    } else log.warn('creating a new slot for an existing publication (FACTLIB_CREATE_SLOT=force)', { slot })
    await client
      .query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot])
      .catch((error: { code?: string; message?: string }) => {
        if (error.code !== '53400') throw error
        throw new FactlibError(
          'SLOT_LIMIT',
          `cannot create replication slot "${slot}": ${error.message}. Drop slots nobody reads ` +
            '(SELECT slot_name, active FROM pg_replication_slots) or raise max_replication_slots ' +
            '(and max_wal_senders) and restart PostgreSQL; factlib doctor shows the headroom.',
          { cause: error },
        )
      })
    log.info('created the replication slot', { slot })
    state = await readSlot(client, slot)
    if (!state) throw new Error(`replication slot "${slot}" vanished right after it was created`)
    return state
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [`factlib:${slot}`]).catch(() => {})
  }
}

async function createPublication(client: pg.ClientBase, publication: string): Promise<void> {
  await client.query(`create publication ${quoteIdent(publication)}`).catch((error: { code?: string }) => {
    if (error.code !== '42710') throw error
  })
}

function missing(what: string, slot: string, publication: string): FactlibError {
  return new FactlibError(
    'SLOT_NOT_SET_UP',
    `${what} does not exist and FACTLIB_CREATE_SLOT=false forbids creating it. Run \`factlib setup\`, or as a ` +
      `privileged role:\n  ${setupSql(slot, publication).join('\n  ')}`,
  )
}

/**
 * How the slot and publication look to `factlib doctor`: whether they exist and fit (plugin, database),
 * whether a relay streams the slot, its `wal_status`, the WAL it holds back, and whether the role may
 * create what is missing. Read-only; the same lifecycle rules as {@link ensureSlot}.
 */
export async function checkSlot(
  client: pg.ClientBase,
  options: { slot: string; publication: string; createSlot: 'true' | 'false' | 'force' },
): Promise<CheckResult[]> {
  const { slot, publication, createSlot } = options
  const { rows } = await client.query<{
    database: string
    role: string
    superuser: boolean
    can_create: boolean
    has_publication: boolean
    keep_mb: string
  }>(
    `select current_database() as database, current_user as role,
            (select rolsuper from pg_roles where rolname = current_user) as superuser,
            has_database_privilege(current_database(), 'CREATE') as can_create,
            exists (select 1 from pg_publication where pubname = $1) as has_publication,
            (select setting::bigint from pg_settings where name = 'max_slot_wal_keep_size') as keep_mb`,
    [publication],
  )
  const facts = rows[0]
  if (!facts) throw new Error('could not read the database')
  const state = await readSlot(client, slot)
  const results: CheckResult[] = []
  const sql = setupSql(slot, publication)
  const drop = `SELECT pg_drop_replication_slot('${slot}');`

  const slotTitle = `replication slot "${slot}"`
  if (!state) {
    if (facts.has_publication && createSlot !== 'force')
      results.push({
        id: 'slot',
        title: slotTitle,
        status: 'fail',
        detail: `missing, but publication "${publication}" exists: the slot was dropped or lost, and facts committed since may never be relayed`,
        fix: 'find out why (pg_replication_slots, server logs); to continue from now, start the relay once with FACTLIB_CREATE_SLOT=force',
      })
    else
      results.push({
        id: 'slot',
        title: slotTitle,
        status: createSlot === 'false' ? 'fail' : 'warn',
        detail:
          createSlot === 'false'
            ? 'missing, and FACTLIB_CREATE_SLOT=false forbids the relay to create it'
            : 'not created yet; the relay creates it when it starts',
        fix: `run factlib setup, or as a privileged role: ${sql.join(' ')}`,
      })
  } else if (state.plugin !== 'pgoutput')
    results.push({
      id: 'slot',
      title: slotTitle,
      status: 'fail',
      detail: `uses the ${state.plugin} plugin; the relay needs pgoutput`,
      fix: `choose another FACTLIB_SLOT, or drop this one if nothing else uses it: ${drop}`,
    })
  else if (state.database !== facts.database)
    results.push({
      id: 'slot',
      title: slotTitle,
      status: 'fail',
      detail: `belongs to database "${state.database}", but DATABASE_URL names "${facts.database}"`,
      fix: 'point DATABASE_URL at the database the slot belongs to, or choose another FACTLIB_SLOT',
    })
  else
    results.push({
      id: 'slot',
      title: slotTitle,
      status: 'pass',
      detail: `pgoutput, confirmed up to ${formatLsn(state.confirmedFlushLsn)}`,
    })

  if (state) {
    results.push(
      state.activePid === null
        ? {
            id: 'slot_active',
            title: 'a relay streams the slot',
            status: 'warn',
            detail: 'no: the slot is inactive, and PostgreSQL keeps every WAL segment since its position',
            fix: `start the relay (factlib relay); if the slot is no longer used, drop it: ${drop}`,
          }
        : {
            id: 'slot_active',
            title: 'a relay streams the slot',
            status: 'pass',
            detail: `yes, server process ${state.activePid}`,
          },
    )
    const walStatus = state.walStatus ?? 'unknown'
    results.push(
      walStatus === 'lost'
        ? {
            id: 'wal_status',
            title: 'slot wal_status',
            status: 'fail',
            detail:
              'lost: PostgreSQL removed WAL the slot still needed; facts committed while the relay was behind are gone',
            fix: `find out why it fell behind (max_slot_wal_keep_size, idle_replication_slot_timeout); then ${drop} and start the relay with FACTLIB_CREATE_SLOT=force`,
          }
        : walStatus === 'unreserved'
          ? {
              id: 'wal_status',
              title: 'slot wal_status',
              status: 'warn',
              detail:
                'unreserved: the slot is past max_slot_wal_keep_size, and its WAL goes at the next checkpoint unless the relay catches up',
              fix: 'make sure the relay is streaming and catching up now; raise max_slot_wal_keep_size',
            }
          : { id: 'wal_status', title: 'slot wal_status', status: 'pass', detail: walStatus },
    )
    const behind = `${formatBytes(state.lagBytes)} not yet confirmed`
    const keepMb = Number(facts.keep_mb)
    const limit = keepMb < 0 ? null : keepMb * 1024 * 1024
    const low = limit !== null && state.safeWalSize !== null && state.safeWalSize < limit / 5
    const unbounded = limit === null && state.lagBytes > 1024 ** 3
    results.push({
      id: 'retained_wal',
      title: 'WAL held for the slot',
      status: low || unbounded ? 'warn' : 'pass',
      detail:
        limit === null
          ? `${behind}; max_slot_wal_keep_size is unlimited`
          : `${behind}; ${formatBytes(state.safeWalSize)} more before the slot is lost (max_slot_wal_keep_size ${formatBytes(limit)})`,
      ...(low
        ? { fix: 'the relay is far behind or stopped: get it streaming, or raise max_slot_wal_keep_size' }
        : unbounded
          ? {
              fix: 'a stopped relay lets WAL grow until the disk is full: get it streaming, and set max_slot_wal_keep_size (e.g. 50GB) to cap it',
            }
          : {}),
    })
  }

  results.push(
    facts.has_publication
      ? { id: 'publication', title: `publication "${publication}"`, status: 'pass', detail: 'exists' }
      : {
          id: 'publication',
          title: `publication "${publication}"`,
          status: createSlot === 'false' || !facts.can_create ? 'fail' : 'warn',
          detail:
            createSlot === 'false'
              ? 'missing, and FACTLIB_CREATE_SLOT=false forbids the relay to create it'
              : facts.can_create
                ? 'not created yet; the relay creates it when it starts'
                : `missing, and role ${facts.role} may not create it`,
          fix: `run factlib setup, or as a privileged role: ${sql[0]}`,
        },
  )

  const mustCreate = !facts.has_publication
  results.push(
    facts.superuser
      ? {
          id: 'privileges',
          title: 'role privileges',
          status: 'pass',
          detail: `${facts.role} is a superuser; a relay needs only REPLICATION and CONNECT (factlib setup prints such a role)`,
        }
      : mustCreate && !facts.can_create
        ? {
            id: 'privileges',
            title: 'role privileges',
            status: 'fail',
            detail: `${facts.role} lacks CREATE on database ${facts.database}, which creating the publication needs`,
            fix: `run factlib setup as an administrator once, or GRANT CREATE ON DATABASE ${quoteIdent(facts.database)} TO ${quoteIdent(facts.role)};`,
          }
        : {
            id: 'privileges',
            title: 'role privileges',
            status: 'pass',
            detail: mustCreate
              ? `${facts.role} may create the publication (CREATE on ${facts.database})`
              : `${facts.role} needs nothing more: the publication exists`,
          },
  )
  return results
}
