import { FactlibError } from '@factlib/emit'
import pg from 'pg'
import { redactUrl } from '../config/config.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { fixFor, type ProviderFix, poolerOf } from './provider-fixes.js'

/** Where the database runs, as far as the fix for a failed check differs. */
export type Provider = 'postgres' | 'rds' | 'aurora' | 'neon' | 'supabase' | 'cloudsql'

/** Guess the provider from the URL's host. `postgres` means self-managed or unknown. */
export function detectProvider(databaseUrl: string): Provider {
  let host = ''
  try {
    const url = new URL(databaseUrl)
    host = `${url.hostname} ${url.searchParams.get('host') ?? ''}`.toLowerCase()
  } catch {
    return 'postgres'
  }
  if (/\.cluster-(ro-)?[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com/.test(host)) return 'aurora'
  if (/\.rds\.amazonaws\.com/.test(host)) return 'rds'
  if (/\.neon\.tech/.test(host)) return 'neon'
  if (/supabase\.(co|com)/.test(host)) return 'supabase'
  if (/\/cloudsql\//.test(host)) return 'cloudsql'
  return 'postgres'
}

/** One checked prerequisite, as `doctor` and `setup` print it (and `--json` gives it). */
export interface CheckResult {
  id: string
  title: string
  status: 'pass' | 'fail' | 'warn'
  /** What was found, e.g. `wal_level is 'replica': …`. */
  detail: string
  /** How to fix a failure or a warning, in one line. */
  fix?: string
  /**
   * When the fix depends on where the database runs and that is not known from its host: each provider's
   * fix, self-managed first (`fix` says the same in one line).
   */
  fixes?: ProviderFix[]
}

/** Neon removes logical replication slots that stay inactive for about this long (Neon's documentation). */
export const NEON_SLOT_REMOVAL_HOURS = 40
/** Neon suspends an idle compute after this many minutes unless configured otherwise. */
export const NEON_SUSPEND_MINUTES = 5

/** What the host checks know beyond the URL. */
export interface HostCheckOptions {
  /**
   * Minutes between scheduled drains (`factlib relay --drain`, FACTLIB_SCHEDULE_MINUTES); 0 says the relay
   * is always on by choice; unset when not told.
   */
  scheduleMinutes?: number | undefined
}

/**
 * What the URL alone tells, before connecting: a pooler host (Neon's `-pooler` host, Supabase's pooler,
 * an RDS Proxy) fails, since no pooler carries a replication connection; on Neon, whether the relay lets
 * the compute scale to zero and whether a schedule keeps the slot inside Neon's removal of inactive slots.
 */
export function checkHost(databaseUrl: string, options: HostCheckOptions = {}): CheckResult[] {
  const results: CheckResult[] = []
  const pooler = poolerOf(databaseUrl)
  if (pooler)
    results.push({
      id: 'pooler',
      title: 'a direct connection (no pooler)',
      status: 'fail',
      detail: pooler.what,
      fix: pooler.fix,
    })
  if (detectProvider(databaseUrl) === 'neon') results.push(neonScaleToZero(options.scheduleMinutes))
  return results
}

function neonScaleToZero(minutes: number | undefined): CheckResult {
  const title = 'Neon scale to zero'
  const every = (count: number) =>
    count % 60 === 0 ? `every ${count / 60} hour${count === 60 ? '' : 's'}` : `every ${count} minutes`
  const window = NEON_SLOT_REMOVAL_HOURS * 60
  if (minutes === undefined)
    return {
      id: 'scale_to_zero',
      title,
      status: 'warn',
      detail:
        'Neon does not scale a compute to zero while a replication client is connected: an always-on relay ' +
        'keeps it awake, and billed, around the clock',
      fix:
        'to let it scale to zero, run factlib relay --drain on a schedule (the infra schedule mode) and give ' +
        'its interval as FACTLIB_SCHEDULE_MINUTES; FACTLIB_SCHEDULE_MINUTES=0 says the relay is always on by choice',
    }
  if (minutes === 0)
    return {
      id: 'scale_to_zero',
      title,
      status: 'pass',
      detail:
        'an always-on relay (FACTLIB_SCHEDULE_MINUTES=0): the compute stays awake while it is connected',
    }
  if (minutes <= NEON_SUSPEND_MINUTES)
    return {
      id: 'scale_to_zero',
      title,
      status: 'warn',
      detail:
        `a drain ${every(minutes)} wakes the compute before its ${NEON_SUSPEND_MINUTES} idle minutes (Neon's ` +
        'default) pass, so it never scales to zero',
      fix: `drain less often than the compute's scale-to-zero delay, e.g. every 15 minutes`,
    }
  if (minutes > window / 2)
    return {
      id: 'scale_to_zero',
      title,
      status: 'warn',
      detail:
        minutes > window
          ? `a drain ${every(minutes)} leaves the slot inactive longer than the ~${NEON_SLOT_REMOVAL_HOURS} hours ` +
            'after which Neon removes inactive replication slots: facts committed before the removal are never relayed'
          : `a drain ${every(minutes)}: one failed run leaves the slot inactive past the ~${NEON_SLOT_REMOVAL_HOURS} ` +
            'hours after which Neon removes inactive replication slots, losing the facts it held',
      fix: `drain well inside ${NEON_SLOT_REMOVAL_HOURS} hours, e.g. every 15 to 60 minutes`,
    }
  return {
    id: 'scale_to_zero',
    title,
    status: 'pass',
    detail:
      `a drain ${every(minutes)}: the compute can scale to zero between runs, and the slot is read well inside ` +
      `Neon's ~${NEON_SLOT_REMOVAL_HOURS}-hour removal of inactive slots`,
  }
}

/**
 * Check what the relay needs from the database: not a pooler (see {@link checkHost}, unless `host` is
 * false because the caller checked the host already), PostgreSQL ≥ 14, `wal_level = logical`, a UTF8
 * database, the REPLICATION privilege (proved by opening a replication connection), and free WAL senders
 * and slots.
 */
export async function checkDatabase(
  client: pg.ClientBase,
  databaseUrl: string,
  options: HostCheckOptions & { host?: boolean } = {},
): Promise<CheckResult[]> {
  const provider = detectProvider(databaseUrl)
  const { rows } = await client.query<{
    version: number
    version_text: string
    wal_level: string
    encoding: string
    role: string
    replication: boolean
    superuser: boolean
    rds_replication: boolean
    max_slots: number
    used_slots: number
    max_senders: number
    used_senders: number
  }>(
    `select current_setting('server_version_num')::int as version,
            current_setting('server_version') as version_text,
            current_setting('wal_level') as wal_level,
            pg_encoding_to_char(d.encoding) as encoding,
            r.rolname as role, r.rolreplication as replication, r.rolsuper as superuser,
            coalesce((select pg_has_role(r.oid, g.oid, 'member') from pg_roles g where g.rolname = 'rds_replication'), false)
              as rds_replication,
            current_setting('max_replication_slots')::int as max_slots,
            (select count(*)::int from pg_replication_slots) as used_slots,
            current_setting('max_wal_senders')::int as max_senders,
            (select count(*)::int from pg_stat_replication) as used_senders
       from pg_database d, pg_roles r
      where d.datname = current_database() and r.rolname = current_user`,
  )
  const facts = rows[0]
  if (!facts) throw new Error('could not read the database settings')
  const results: CheckResult[] = options.host === false ? [] : checkHost(databaseUrl, options)
  const add = (result: CheckResult) => results.push(result)

  add(
    facts.version >= 140000
      ? { id: 'version', title: 'PostgreSQL ≥ 14', status: 'pass', detail: facts.version_text }
      : {
          id: 'version',
          title: 'PostgreSQL ≥ 14',
          status: 'fail',
          detail: `the server runs PostgreSQL ${facts.version_text}`,
          ...fixFor('version', provider),
        },
  )
  add(
    facts.wal_level === 'logical'
      ? { id: 'wal_level', title: 'wal_level = logical', status: 'pass', detail: 'logical' }
      : {
          id: 'wal_level',
          title: 'wal_level = logical',
          status: 'fail',
          detail: `wal_level is '${facts.wal_level}': facts are written to the WAL but nothing can decode them`,
          ...fixFor('walLevel', provider),
        },
  )
  add(
    facts.encoding === 'UTF8'
      ? { id: 'encoding', title: 'database encoding UTF8', status: 'pass', detail: 'UTF8' }
      : {
          id: 'encoding',
          title: 'database encoding UTF8',
          status: 'fail',
          detail: `the database is ${facts.encoding}: text facts would be converted`,
          ...fixFor('encoding', provider),
        },
  )
  const replication = await canReplicate(databaseUrl)
  const attribute = facts.superuser
    ? 'superuser'
    : facts.replication
      ? 'REPLICATION'
      : facts.rds_replication
        ? 'rds_replication'
        : 'no REPLICATION attribute'
  add(
    replication === true
      ? {
          id: 'replication',
          title: 'replication privilege',
          status: 'pass',
          detail: `role ${facts.role} (${attribute})`,
        }
      : {
          id: 'replication',
          title: 'replication privilege',
          status: 'fail',
          detail: `role ${facts.role} (${attribute}) cannot open a replication connection: ${replication}`,
          ...fixFor('replication', provider, quoteIdent(facts.role)),
        },
  )
  const slotsLeft = facts.max_slots - facts.used_slots
  const sendersLeft = facts.max_senders - facts.used_senders
  add(
    slotsLeft > 0 && sendersLeft > 0
      ? {
          id: 'capacity',
          title: 'free replication slots and WAL senders',
          status: 'pass',
          detail: `${facts.used_slots}/${facts.max_slots} slots, ${facts.used_senders}/${facts.max_senders} senders in use`,
        }
      : {
          id: 'capacity',
          title: 'free replication slots and WAL senders',
          status: 'warn',
          detail: `${facts.used_slots}/${facts.max_slots} slots, ${facts.used_senders}/${facts.max_senders} senders in use: a new slot or stream may be refused`,
          ...fixFor('senders', provider),
        },
  )
  return results
}

/** A prerequisite the relay needs failed; `check` is the failed check, with its detail and fix. */
export class PrerequisiteError extends FactlibError {
  override readonly name = 'PrerequisiteError'
  declare readonly check: CheckResult
  constructor(check: CheckResult) {
    super(
      `PREREQUISITE_${check.id.toUpperCase()}`,
      `${check.title}: ${check.detail}. Fix: ${check.fix ?? 'see factlib doctor'}`,
    )
    this.check = check
  }
}

/** Throw the first failed check as a {@link PrerequisiteError}. */
export function assertChecks(results: CheckResult[]): void {
  const failed = results.find((result) => result.status === 'fail')
  if (failed) throw new PrerequisiteError(failed)
}

/** True, or why a replication connection (what the relay streams through) was refused. */
async function canReplicate(databaseUrl: string): Promise<true | string> {
  const client = new pg.Client({ connectionString: databaseUrl, replication: 'database' } as pg.ClientConfig)
  try {
    await client.connect()
    await client.query('IDENTIFY_SYSTEM')
    return true
  } catch (error) {
    return errorMessage(error)
  } finally {
    await client.end().catch(() => {})
  }
}

/** The database could not be reached (`DATABASE_UNREACHABLE`): the driver's reason and what to check. */
export class DatabaseUnreachableError extends FactlibError {
  override readonly name = 'DatabaseUnreachableError'
  /** The driver's own message, e.g. `connect ECONNREFUSED 127.0.0.1:5432`. */
  declare readonly reason: string
  /** What to check or change, e.g. `the password is wrong for this user`. */
  declare readonly fix: string

  constructor(where: string, reason: string, fix: string, options: { cause: unknown; retriable: boolean }) {
    super('DATABASE_UNREACHABLE', `cannot connect to ${where}: ${reason} (${fix})`, options)
    this.reason = reason
    this.fix = fix
  }
}

/** Explain a failure to connect, without the password. */
export function explainConnectError(error: unknown, databaseUrl: string): DatabaseUnreachableError {
  const code = errorFields(error)?.code
  const reason = errorMessage(error)
  const fix =
    code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH'
      ? 'check the host and port, and that security groups or firewalls let this machine in'
      : code === '28P01'
        ? 'the password is wrong for this user'
        : code === '28000'
          ? 'pg_hba.conf (or the provider) refuses this user/host/TLS combination; managed databases usually need ?sslmode=require'
          : code === '3D000'
            ? 'the database does not exist; check the path of DATABASE_URL'
            : // pg says "The server does not support SSL connections" without a code.
              /SSL|TLS|certificate/i.test(reason)
              ? 'TLS failed: use ?sslmode=require, or ?sslmode=verify-full with the provider CA (PGSSLROOTCERT / sslrootcert)'
              : 'check DATABASE_URL'
  return new DatabaseUnreachableError(redactUrl(databaseUrl), reason, fix, {
    cause: error,
    retriable: code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === '57P03',
  })
}

export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`
}

/** The connection itself, as `factlib doctor` reports it: where, as whom, and whether TLS is on. */
export async function checkConnection(client: pg.ClientBase, databaseUrl: string): Promise<CheckResult> {
  const { rows } = await client.query<{
    ssl: boolean | null
    tls: string | null
    database: string
    role: string
  }>(
    `select s.ssl, s.version as tls, current_database() as database, current_user as role
       from pg_stat_ssl s where s.pid = pg_backend_pid()`,
  )
  const facts = rows[0]
  const url = new URL(databaseUrl)
  const where = `${url.host || url.searchParams.get('host') || 'local socket'}/${facts?.database} as ${facts?.role}`
  if (facts?.ssl)
    return { id: 'connection', title: 'connection', status: 'pass', detail: `${where}, TLS (${facts.tls})` }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const local = ['', 'localhost', '127.0.0.1', '::1'].includes(host) || host.startsWith('/')
  return local
    ? {
        id: 'connection',
        title: 'connection',
        status: 'pass',
        detail: `${where}, no TLS (a local connection)`,
      }
    : {
        id: 'connection',
        title: 'connection',
        status: 'warn',
        detail: `${where}, no TLS: the URL does not ask for it, so credentials and facts cross the network in clear`,
        fix: "add ?sslmode=verify-full to DATABASE_URL, with the provider's CA in PGSSLROOTCERT or ?sslrootcert=",
      }
}

/**
 * SQL for a least-privilege role the relay can run as once `factlib setup` has created the publication and
 * the slot: it may log in, open replication connections and connect to the database, nothing else.
 */
export function relayRoleSql(provider: Provider, role: string, database?: string): string[] {
  const name = quoteIdent(role)
  const rds = provider === 'rds' || provider === 'aurora'
  return [
    rds
      ? `CREATE ROLE ${name} WITH LOGIN PASSWORD '<choose a password>';`
      : `CREATE ROLE ${name} WITH LOGIN REPLICATION PASSWORD '<choose a password>';`,
    ...(rds ? [`GRANT rds_replication TO ${name};`] : []),
    `GRANT CONNECT ON DATABASE ${database === undefined ? '<database>' : quoteIdent(database)} TO ${name};`,
    ...(provider === 'postgres'
      ? [
          `-- RDS and Aurora: instead of REPLICATION, GRANT rds_replication TO ${name};`,
          '-- Cloud SQL: run as a cloudsqlsuperuser; Supabase: as postgres; Neon: as the project owner role',
        ]
      : []),
  ]
}
