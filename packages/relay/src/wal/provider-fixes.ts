import type { CheckResult, Provider } from './prerequisites.js'

type Fixes = Record<Provider, string>

/** How to fix each prerequisite, per provider. Unknown providers get every line. */
const FIXES = {
  version: {
    postgres: 'upgrade to PostgreSQL 14 or newer (pgoutput streams logical messages only from 14)',
    rds: 'upgrade the RDS instance to PostgreSQL 14 or newer',
    aurora: 'upgrade the Aurora cluster to PostgreSQL-compatible 14 or newer',
    neon: 'create the project with PostgreSQL 14 or newer',
    supabase: 'upgrade the project to PostgreSQL 14 or newer (Settings → Infrastructure)',
    cloudsql: 'upgrade the instance to PostgreSQL 14 or newer',
  },
  walLevel: {
    postgres: "set wal_level = logical (ALTER SYSTEM SET wal_level = 'logical') and restart PostgreSQL",
    rds: 'set rds.logical_replication = 1 in the DB parameter group and reboot the instance',
    aurora: 'set rds.logical_replication = 1 in the DB cluster parameter group and reboot the writer',
    neon: 'enable logical replication in the Neon Console (Project settings → Logical Replication); it restarts the compute',
    supabase: 'wal_level is logical on Supabase by default; ask Supabase support if it is not',
    cloudsql: 'set the database flag cloudsql.logical_decoding = on and restart the instance',
  },
  encoding: {
    postgres: 'create the database with ENCODING UTF8 (CREATE DATABASE app ENCODING UTF8 TEMPLATE template0)',
    rds: 'create the database with ENCODING UTF8 (CREATE DATABASE app ENCODING UTF8 TEMPLATE template0)',
    aurora: 'create the database with ENCODING UTF8 (CREATE DATABASE app ENCODING UTF8 TEMPLATE template0)',
    neon: 'Neon databases are UTF8; create a new database in the Neon Console',
    supabase: 'Supabase databases are UTF8; check that DATABASE_URL names the right database',
    cloudsql: 'create the database with charset UTF8 (gcloud sql databases create app --charset=UTF8)',
  },
  replication: {
    postgres: 'ALTER ROLE <relay role> WITH REPLICATION;',
    rds: 'GRANT rds_replication TO <relay role>;',
    aurora: 'GRANT rds_replication TO <relay role>;',
    neon: 'use a role created in the Neon Console or API (they have REPLICATION), or ALTER ROLE <relay role> WITH REPLICATION;',
    supabase: 'ALTER ROLE <relay role> WITH REPLICATION; (as postgres)',
    cloudsql: 'ALTER ROLE <relay role> WITH REPLICATION; (as a cloudsqlsuperuser)',
  },
  senders: {
    postgres: 'raise max_wal_senders and max_replication_slots (e.g. to 10) and restart PostgreSQL',
    rds: 'raise max_wal_senders and max_replication_slots in the DB parameter group and reboot',
    aurora:
      'raise max_wal_senders and max_replication_slots in the DB cluster parameter group and reboot the writer',
    neon: 'drop unused replication slots (Neon allows 10 slots and senders per project)',
    supabase: 'drop unused replication slots, or raise the limits through Supabase support',
    cloudsql: 'raise the max_wal_senders and max_replication_slots flags and restart the instance',
  },
} satisfies Record<string, Fixes>

/** Each provider as a fix names it, self-managed first. */
const PROVIDERS: ReadonlyArray<{ provider: Provider; name: string }> = [
  { provider: 'postgres', name: 'self-managed PostgreSQL' },
  { provider: 'rds', name: 'RDS' },
  { provider: 'aurora', name: 'Aurora' },
  { provider: 'neon', name: 'Neon' },
  { provider: 'supabase', name: 'Supabase' },
  { provider: 'cloudsql', name: 'Cloud SQL' },
]

/** The fix of a check where it depends on where the database runs. */
export interface ProviderFix {
  provider: Provider
  /** `self-managed PostgreSQL`, `RDS`, `Cloud SQL`, … */
  name: string
  fix: string
}

/**
 * The fix for `check` on `provider`, as {@link CheckResult} carries it. For a self-managed or unknown host
 * `fix` names the managed providers' way too, in one line, and `fixes` lists each provider's as data.
 * `role` fills in the `<relay role>` of the replication fix.
 */
export function fixFor(
  check: keyof typeof FIXES,
  provider: Provider,
  role = '<relay role>',
): Pick<CheckResult, 'fix' | 'fixes'> {
  const fixOn = (where: Provider) => FIXES[check][where].replaceAll('<relay role>', role)
  if (provider !== 'postgres') return { fix: fixOn(provider) }
  const fixes = PROVIDERS.map(({ provider: where, name }) => ({ provider: where, name, fix: fixOn(where) }))
  const managed = fixes.slice(1).map(({ name, fix }) => `${name}: ${fix}`)
  return { fix: `${fixOn('postgres')} (${managed.join('; ')})`, fixes }
}

/**
 * A connection pooler between the relay and PostgreSQL, recognized by its host: poolers carry ordinary
 * sessions only, never a replication connection, so the relay must be given the direct endpoint.
 */
export interface Pooler {
  provider: Provider
  /** What the host is, e.g. `Neon's pooled host ep-…-pooler.… (PgBouncer in transaction mode)`. */
  what: string
  /** The direct endpoint to use instead, in one line (with the URL to set when it follows from this one). */
  fix: string
}

/**
 * The pooler `databaseUrl` points at, if its host is one: Neon's pooled host (the endpoint id with
 * `-pooler` appended to the first label), Supabase's shared pooler (Supavisor, `*.pooler.supabase.com`) or
 * dedicated pooler (PgBouncer on port 6543 of `db.<project-ref>.supabase.co`), or an RDS Proxy
 * (`<proxy>.proxy-<id>.<region>.rds.amazonaws.com`). Decided from the URL alone, before connecting.
 */
export function poolerOf(databaseUrl: string): Pooler | undefined {
  let url: URL
  try {
    url = new URL(databaseUrl)
  } catch {
    return undefined
  }
  const host = url.hostname.toLowerCase()
  const direct = (hostname: string, port: string, username = url.username): string => {
    const to = new URL(url.toString())
    to.hostname = hostname
    to.port = port
    to.username = username
    if (to.password) to.password = '***'
    return `DATABASE_URL=${to.toString()}`
  }

  const neon = /^(ep-[a-z0-9-]+?)-pooler(\.(?:[a-z0-9-]+\.)*neon\.tech)$/.exec(host)
  if (neon) {
    const directHost = `${neon[1]}${neon[2]}`
    return {
      provider: 'neon',
      what: `${host} is Neon's pooled host (PgBouncer in transaction mode), which cannot carry a replication connection`,
      fix: `use the direct host ${directHost} (the same name without -pooler): ${direct(directHost, url.port)}`,
    }
  }

  const supavisor = /\.pooler\.supabase\.com$/.test(host)
  const dedicated = /^db\.([a-z0-9]+)\.supabase\.co$/.exec(host)
  if (supavisor || (dedicated && url.port === '6543')) {
    // The shared pooler names the project in the user (`postgres.<project-ref>`); the direct host does not.
    const user = decodeURIComponent(url.username)
    const ref = dedicated?.[1] ?? /^[^.]+\.([a-z0-9]+)$/.exec(user)?.[1]
    const directHost = `db.${ref ?? '<project-ref>'}.supabase.co`
    const directUser = supavisor ? encodeURIComponent(user.replace(/\.[a-z0-9]+$/, '')) : url.username
    return {
      provider: 'supabase',
      what: supavisor
        ? `${host}:${url.port || '5432'} is Supabase's shared pooler (Supavisor), which cannot carry a replication connection`
        : `${host}:6543 is Supabase's dedicated pooler (PgBouncer), which cannot carry a replication connection`,
      fix:
        `use the direct connection ${directHost}:5432 (IPv6 unless the project has the IPv4 add-on): ` +
        direct(directHost, '5432', directUser),
    }
  }

  const proxy = /^([a-z0-9-]+)\.(endpoint\.)?proxy-[a-z0-9]+\.([a-z0-9-]+)\.rds\.amazonaws\.com(\.cn)?$/.exec(
    host,
  )
  if (proxy) {
    const name = proxy[2] ? '<proxy name>' : proxy[1]
    return {
      provider: 'rds',
      what: `${host} is an RDS Proxy, which does not support replication connections`,
      fix:
        'use the endpoint of the DB instance, or the Aurora cluster (writer) endpoint, that the proxy fronts ' +
        `(aws rds describe-db-proxy-targets --db-proxy-name ${name} --region ${proxy[3]} names it)`,
    }
  }
  return undefined
}
