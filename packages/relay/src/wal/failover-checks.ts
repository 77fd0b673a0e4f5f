import pg from 'pg'
import { redactUrl } from '../config/config.js'
import { errorMessage } from '../util/error-fields.js'
import { failoverSlotsSupported } from './failover.js'
import { formatLsn, parseLsn } from './lsn.js'
import { type CheckResult, quoteIdent } from './prerequisites.js'
import { readSlot } from './slot.js'

/** What {@link checkFailover} looks at besides the primary: the relay's setting and standbys it may reach. */
export interface FailoverCheckOptions {
  slot: string
  /** `FACTLIB_SLOT_FAILOVER`. */
  slotFailover: boolean
  /** Standbys to read the slot's copy from (`--standby-url`); none means they are not checked. */
  standbyUrls?: readonly string[]
}

/**
 * Whether the slot survives a promotion of a streaming standby, as `doctor` and `setup` report it: the
 * slot's `failover` flag (PostgreSQL 17+), `synchronized_standby_slots` on this server (and that a standby
 * named there that is down holds the relay back), and, for each standby given, its synced copy of the slot.
 * Nothing when the slot does not exist (the slot check says so). Read-only.
 */
export async function checkFailover(
  client: pg.ClientBase,
  options: FailoverCheckOptions,
): Promise<CheckResult[]> {
  const slot = await readSlot(client, options.slot)
  if (!slot) return []
  const { rows } = await client.query<{
    version: number
    version_text: string
    standby_slots: string | null
    standbys: number
  }>(
    // A walsender that streams no logical slot serves a physical standby (or a base backup).
    `select current_setting('server_version_num')::int as version,
            current_setting('server_version') as version_text,
            current_setting('synchronized_standby_slots', true) as standby_slots,
            (select count(*)::int from pg_stat_replication r
              where not exists (select 1 from pg_replication_slots s
                                 where s.active_pid = r.pid and s.slot_type = 'logical')) as standbys`,
  )
  const facts = rows[0]
  if (!facts) throw new Error('could not read the server settings')
  const attached =
    facts.standbys === 0
      ? 'no streaming standby is attached (pg_stat_replication)'
      : `${facts.standbys} streaming standby${facts.standbys === 1 ? ' is' : 's are'} attached`
  const title = 'slot kept through a failover'
  const alter = `ALTER_REPLICATION_SLOT ${quoteIdent(options.slot)} (FAILOVER true)`

  if (!failoverSlotsSupported(facts.version))
    return [
      {
        id: 'failover',
        title,
        status: facts.standbys > 0 ? 'warn' : 'pass',
        detail:
          `PostgreSQL ${facts.version_text} cannot synchronize a logical slot to a standby (failover slots need 17): ` +
          `a promoted standby has no slot, and the relay stops with SLOT_MISSING; ${attached}`,
        ...(facts.standbys > 0
          ? { fix: 'upgrade to PostgreSQL 17 or newer; the relay then makes the slot a failover slot itself' }
          : {}),
      },
    ]
  if (!slot.failover)
    return [
      options.slotFailover
        ? {
            id: 'failover',
            title,
            status: 'warn',
            detail: `failover = false: the slot exists on this server only (a relay turns failover on when it starts and no other reader holds the slot); ${attached}`,
            fix: `restart the relay while no other relay reads the slot, or, with no relay running, over a replication connection (psql "… replication=database"): ${alter}`,
          }
        : {
            id: 'failover',
            title,
            status: facts.standbys > 0 ? 'warn' : 'pass',
            detail: `failover = false (FACTLIB_SLOT_FAILOVER=false): a promoted standby has no slot, and the relay stops with SLOT_MISSING; ${attached}`,
            ...(facts.standbys > 0
              ? { fix: 'set FACTLIB_SLOT_FAILOVER=true and restart the relay: it turns failover on in place' }
              : {}),
          },
    ]

  const results: CheckResult[] = [
    {
      id: 'failover',
      title,
      status: 'pass',
      detail:
        `failover = true: a standby running sync_replication_slots = on keeps a copy, and once promoted it ` +
        `continues the slot; ${attached}` +
        (options.standbyUrls?.length
          ? ''
          : '; no standby was checked (doctor --standby-url <url> reads its copy)'),
    },
    await checkStandbySlots(client, facts.standby_slots ?? '', facts.standbys),
  ]
  for (const url of options.standbyUrls ?? []) results.push(await checkStandbyCopy(url, options.slot))
  return results
}

/** `synchronized_standby_slots`: the standbys logical decoding waits for, and whether each is there. */
async function checkStandbySlots(
  client: pg.ClientBase,
  setting: string,
  standbys: number,
): Promise<CheckResult> {
  const title = 'synchronized_standby_slots'
  const names = setting
    .split(',')
    .map((name) => name.trim().replace(/^"(.*)"$/, '$1'))
    .filter(Boolean)
  const physical = await client.query<{ slot_name: string; active: boolean }>(
    `select slot_name, active from pg_replication_slots where slot_type = 'physical' order by slot_name`,
  )
  const set = (slots: string) =>
    `ALTER SYSTEM SET synchronized_standby_slots = '${slots}'; SELECT pg_reload_conf();`
  if (!names.length)
    return {
      id: 'standby_slots',
      title,
      status: standbys > 0 ? 'warn' : 'pass',
      detail:
        'empty: logical decoding waits for no standby, so the relay may publish facts a standby has not received ' +
        '(after a failover to it they are in Kafka but not in the database, and its copy of the slot may lag)' +
        (standbys > 0 ? '' : '; no standby is attached to wait for'),
      ...(standbys > 0
        ? {
            fix: `name the standby's physical slot (primary_slot_name on the standby${physical.rows.length ? `; here: ${physical.rows.map((row) => row.slot_name).join(', ')}` : ''}): ${set('<slot>')}`,
          }
        : {}),
    }
  const found = new Map(physical.rows.map((row) => [row.slot_name, row.active]))
  const down = names.filter((name) => found.get(name) !== true)
  const heldBack =
    'logical decoding waits for every slot named here, so while one of these standbys is down the relay ' +
    'receives nothing new (the slot lag grows) until it returns or is removed from the setting'
  if (down.length)
    return {
      id: 'standby_slots',
      title,
      status: 'warn',
      detail: `${down.map((name) => `${name} ${found.has(name) ? 'is inactive' : 'is no physical slot here'}`).join(', ')}: ${heldBack}`,
      fix: `bring the standby back, or remove it: ${set(names.filter((name) => !down.includes(name)).join(', '))}`,
    }
  return {
    id: 'standby_slots',
    title,
    status: 'pass',
    detail: `${names.join(', ')} (active): the relay receives only WAL these standbys have flushed; ${heldBack}`,
  }
}

/** A standby's copy of the slot: `synced` and no longer `temporary`, or why a promotion now would lose it. */
async function checkStandbyCopy(url: string, slotName: string): Promise<CheckResult> {
  const where = redactUrl(url)
  const title = `standby ${URL.canParse(url) ? new URL(url).host || where : where}`
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{
      recovery: boolean
      sync: string | null
      slot: {
        synced?: boolean
        temporary?: boolean
        confirmed_flush_lsn?: string | null
        invalidation_reason?: string | null
      } | null
    }>(
      `select pg_is_in_recovery() as recovery,
              current_setting('sync_replication_slots', true) as sync,
              (select to_jsonb(s) from pg_replication_slots s where slot_name = $1) as slot`,
      [slotName],
    )
    const facts = rows[0]
    const fix = (text: string) => ({ status: 'warn' as const, fix: text })
    if (!facts?.recovery)
      return {
        id: 'standby_copy',
        title,
        detail: 'is not a standby (not in recovery)',
        ...fix('check --standby-url'),
      }
    if (facts.sync !== 'on')
      return {
        id: 'standby_copy',
        title,
        detail: 'sync_replication_slots is off: it copies no failover slot',
        ...fix(
          'on the standby: sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name, and a dbname in primary_conninfo; then reload',
        ),
      }
    const copy = facts.slot
    if (!copy)
      return {
        id: 'standby_copy',
        title,
        detail: `has no copy of slot "${slotName}" yet`,
        ...fix(
          "look for 'could not synchronize replication slot' in the standby's log (a slot of the same name there blocks it); the copy appears within about 30 s",
        ),
      }
    if (copy.invalidation_reason)
      return {
        id: 'standby_copy',
        title,
        detail: `its copy is invalidated (${copy.invalidation_reason}): a promotion would not continue it`,
        ...fix('see the standby log; the copy is made again once the primary slot is usable'),
      }
    if (!copy.synced || copy.temporary)
      return {
        id: 'standby_copy',
        title,
        detail: `its copy is ${copy.synced ? 'still temporary' : 'not a synced slot'}: a promotion now would not keep it`,
        ...fix(
          copy.synced
            ? "it turns persistent once the primary's slot moves past the standby's position: let the relay stream"
            : `drop that slot on the standby (a slot of the same name blocks synchronization): SELECT pg_drop_replication_slot('${slotName}');`,
        ),
      }
    const confirmed = copy.confirmed_flush_lsn ? formatLsn(parseLsn(copy.confirmed_flush_lsn)) : 'nothing'
    return {
      id: 'standby_copy',
      title,
      status: 'pass',
      detail: `synced copy of slot "${slotName}", confirmed up to ${confirmed}: a promotion continues from there`,
    }
  } catch (error) {
    return {
      id: 'standby_copy',
      title,
      status: 'warn',
      detail: `could not reach ${where}: ${errorMessage(error)}; its copy of the slot was not checked`,
      fix: 'check --standby-url and that this machine may connect to the standby',
    }
  } finally {
    await client.end().catch(() => {})
  }
}
