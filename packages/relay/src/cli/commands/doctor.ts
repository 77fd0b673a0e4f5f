import type pg from 'pg'
import { type RelayConfig, redactUrl } from '../../config/config.js'
import { checkKafka } from '../../sinks/kafka/checks.js'
import { errorFields, errorMessage } from '../../util/error-fields.js'
import { checkFailover } from '../../wal/failover-checks.js'
import {
  type CheckResult,
  checkConnection,
  checkDatabase,
  checkHost,
  DatabaseUnreachableError,
  detectProvider,
} from '../../wal/prerequisites.js'
import { checkSlot } from '../../wal/slot-checks.js'
import { type Command, parseFlags, UsageError } from '../command.js'
import {
  commandFlags,
  DATABASE_VARIABLES,
  inspectConfig,
  SINK_VARIABLES,
  stringFlags,
} from '../config-flags.js'
import { connectDatabase } from '../connect.js'
import { checksTable } from '../table.js'

/** `--schedule-minutes`, which `doctor` and `setup` share. */
export const SCHEDULE_FLAG = {
  type: 'string',
  value: '<minutes>',
  help:
    'minutes between scheduled runs of factlib relay --drain, 0 for an always-on relay ' +
    "[FACTLIB_SCHEDULE_MINUTES]; checked against Neon's scale to zero and slot removal",
} as const

/** `--standby-url`, which `doctor` and `setup` share. */
export const STANDBY_URL_FLAG = {
  type: 'string',
  multiple: true,
  value: '<url>',
  help: "a streaming standby to read the slot's synced copy from (repeatable)",
} as const

/** The schedule `--schedule-minutes` or FACTLIB_SCHEDULE_MINUTES gives, if either does. */
export function scheduleMinutes(flag: unknown): number | undefined {
  const value = (typeof flag === 'string' ? flag : process.env.FACTLIB_SCHEDULE_MINUTES)?.trim()
  if (!value) return undefined
  const minutes = Number(value)
  if (!Number.isInteger(minutes) || minutes < 0)
    throw new UsageError(
      `--schedule-minutes (FACTLIB_SCHEDULE_MINUTES) is ${JSON.stringify(value)}; expected whole minutes, 0 or more`,
    )
  return minutes
}

const FLAGS = commandFlags([...DATABASE_VARIABLES, ...SINK_VARIABLES], {
  'standby-url': STANDBY_URL_FLAG,
  'schedule-minutes': SCHEDULE_FLAG,
  json: {
    type: 'boolean',
    help: 'print {"ok", "checks": [{"id","title","status","detail","fix","fixes"}]}',
  },
})

export const doctorCommand: Command = {
  name: 'doctor',
  help: `Usage: factlib doctor [flags]

Checks, with the relay's own configuration (environment variables or flags, as for factlib relay):
that the host is no pooler (Neon's -pooler host, Supabase's pooler, an RDS Proxy: replication needs the
direct endpoint, which it prints), on Neon whether the compute can scale to zero (--schedule-minutes),
the connection (with TLS when DATABASE_URL asks for it), PostgreSQL ≥ 14, UTF8, wal_level = logical, the
REPLICATION privilege, free replication slots and WAL senders, the slot (exists, pgoutput, streamed
by a relay, wal_status), the WAL it holds back, whether a standby's promotion keeps the slot (its
failover flag, synchronized_standby_slots, and with --standby-url the standby's synced copy), the
publication, the role's privileges, and, when the sink is Kafka, MSK IAM signing, that the brokers
answer, and that topics exist or may be created.
Prints one row per check and a fix under each failure or warning. Changes nothing. Exits 1 when a check
fails (warnings do not fail), 0 otherwise.

Flags:
${FLAGS.help}

Examples:
  DATABASE_URL=postgres://relay@db:5432/app KAFKA_BROKERS=kafka:9092 factlib doctor
  factlib doctor --database-url postgres://localhost/app --json | jq '.checks[] | select(.status != "pass")'
  KAFKA_CLUSTER_ARN=arn:aws:kafka:eu-west-1:123456789012:cluster/facts/abc KAFKA_SASL=iam factlib doctor
  factlib doctor --database-url postgres://relay@primary/app --standby-url postgres://relay@standby/app
  factlib doctor --database-url postgres://relay@ep-cool-darkness-123456.us-east-2.aws.neon.tech/app --schedule-minutes 15`,

  async run(argv) {
    const { values } = parseFlags('doctor', argv, FLAGS.options)
    const config = inspectConfig(stringFlags(values))
    const standbyUrls = Array.isArray(values['standby-url']) ? values['standby-url'].map(String) : []
    const schedule = scheduleMinutes(values['schedule-minutes'])
    const checks = [
      ...checkHost(config.databaseUrl, { scheduleMinutes: schedule }),
      ...(await checkPostgres(config, standbyUrls)),
      ...(await checkKafka(config)),
    ]
    const ok = checks.every((check) => check.status !== 'fail')
    if (values.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`)
    else {
      const provider = detectProvider(config.databaseUrl)
      const sink =
        config.sink.kind === 'kafka'
          ? `kafka ${config.sink.brokers.join(',') || config.sink.clusterArn}`
          : config.sink.kind === 'custom'
            ? 'custom (a sink object of the program that runs the relay)'
            : 'stdout (no Kafka configured)'
      process.stdout.write(
        `factlib doctor: ${redactUrl(config.databaseUrl)}${provider === 'postgres' ? '' : ` (${provider})`}, ` +
          `slot "${config.slot}", publication "${config.publication}", sink ${sink}\n\n${checksTable(checks)}\n`,
      )
    }
    return ok ? 0 : 1
  },
}

async function checkPostgres(config: RelayConfig, standbyUrls: string[]): Promise<CheckResult[]> {
  let client: pg.Client
  try {
    client = await connectDatabase(config.databaseUrl, 'doctor')
  } catch (error) {
    if (!(error instanceof DatabaseUnreachableError)) throw error
    return [
      {
        id: 'connection',
        title: 'connection',
        status: 'fail',
        detail: `cannot connect to ${redactUrl(config.databaseUrl)}: ${error.reason}`,
        fix: `${error.fix}; the rest of the database checks need a connection`,
      },
    ]
  }
  const results: CheckResult[] = []
  const attempt = async (id: string, title: string, check: () => Promise<CheckResult[]>) => {
    try {
      results.push(...(await check()))
    } catch (error) {
      const code = errorFields(error)?.code
      results.push({
        id,
        title,
        status: 'fail',
        detail: `the check itself failed: ${errorMessage(error)}${code ? ` (SQLSTATE ${code})` : ''}`,
        fix: 'run doctor as a role that can read pg_settings, pg_roles and pg_replication_slots',
      })
    }
  }
  try {
    await attempt('connection', 'connection', async () => [await checkConnection(client, config.databaseUrl)])
    await attempt('database', 'database prerequisites', () =>
      checkDatabase(client, config.databaseUrl, { host: false }),
    )
    await attempt('slot', `replication slot "${config.slot}"`, () => checkSlot(client, config))
    await attempt('failover', 'slot kept through a failover', () =>
      checkFailover(client, { ...config, standbyUrls }),
    )
  } finally {
    await client.end().catch(() => {})
  }
  return results
}
