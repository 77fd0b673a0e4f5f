import { FactlibError } from '@factlib/emit'
import pg from 'pg'
import { redactUrl } from '../config/config.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import { fixFor, type ProviderFix } from './provider-fixes.js'

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

/**
 * Check what the relay needs from the database: PostgreSQL ≥ 14, `wal_level = logical`, a UTF8 database,
 * the REPLICATION privilege (proved by opening a replication connection), and free WAL senders and slots.
 */
export async function checkDatabase(client: pg.ClientBase, databaseUrl: string): Promise<CheckResult[]> {
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
  const results: CheckResult[] = []
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
