import type pg from 'pg'
import { formatBytes } from '../util/format.js'
import { failoverSlotsSupported } from './failover.js'
import { formatLsn } from './lsn.js'
import { type CheckResult, quoteIdent } from './prerequisites.js'
import { readSlot, setupSql } from './slot.js'

/**
 * How the slot and publication look to `factlib doctor`: whether they exist and fit (plugin, database),
 * whether a relay streams the slot, its `wal_status`, the WAL it holds back, and whether the role may
 * create what is missing. Read-only; the same lifecycle rules as `ensureSlot`.
 */
export async function checkSlot(
  client: pg.ClientBase,
  options: {
    slot: string
    publication: string
    createSlot: 'true' | 'false' | 'force'
    slotFailover: boolean
  },
): Promise<CheckResult[]> {
  const { slot, publication, createSlot } = options
  const { rows } = await client.query<{
    database: string
    role: string
    superuser: boolean
    can_create: boolean
    has_publication: boolean
    keep_mb: string
    version: number
  }>(
    `select current_database() as database, current_user as role,
            current_setting('server_version_num')::int as version,
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
  const sql = setupSql(slot, publication, options.slotFailover && failoverSlotsSupported(facts.version))
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
