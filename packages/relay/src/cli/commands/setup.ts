import { FactlibError } from '@factlib/emit'
import type pg from 'pg'
import { redactUrl } from '../../config/config.js'
import { silentLogger } from '../../observability/log.js'
import { failoverHere } from '../../wal/failover.js'
import { checkFailover } from '../../wal/failover-checks.js'
import { formatLsn } from '../../wal/lsn.js'
import { checkDatabase, detectProvider, quoteIdent, relayRoleSql } from '../../wal/prerequisites.js'
import { ensureSlot, readSlot, setupSql } from '../../wal/slot.js'
import { type Command, parseFlags, UsageError } from '../command.js'
import { commandFlags, DATABASE_VARIABLES, inspectConfig, stringFlags } from '../config-flags.js'
import { connectDatabase } from '../connect.js'
import { checksTable } from '../table.js'
import { SCHEDULE_FLAG, STANDBY_URL_FLAG, scheduleMinutes } from './doctor.js'

const FLAGS = commandFlags(DATABASE_VARIABLES, {
  role: { type: 'string', value: '<name>', help: 'the relay role in the printed SQL [factlib_relay]' },
  'dry-run': { type: 'boolean', help: 'print the SQL only; connects to nothing (DATABASE_URL optional)' },
  drop: {
    type: 'boolean',
    help: 'remove the slot and publication instead (refused while a relay streams)',
  },
  'standby-url': STANDBY_URL_FLAG,
  'schedule-minutes': SCHEDULE_FLAG,
  json: { type: 'boolean', help: 'print {"ok","checks","created","sql"} (with --drop: {"dropped"})' },
})

export const setupCommand: Command = {
  name: 'setup',
  help: `Usage: factlib setup [flags]

Checks every prerequisite (a direct host, not a pooler; PostgreSQL ≥ 14, wal_level = logical, UTF8,
REPLICATION, free slots and senders; on Neon, scale to zero and --schedule-minutes), then creates the
publication and the logical replication slot (pgoutput) the relay streams; what exists already is kept.
On PostgreSQL 17+ the slot is a failover slot (FACTLIB_SLOT_FAILOVER), and setup reports whether a
standby's promotion keeps it. Where a prerequisite fails, creates nothing and prints exactly what to
change for where the database runs (self-managed PostgreSQL, an RDS or Aurora parameter group, Neon,
Supabase, Cloud SQL; for a pooler host, the direct endpoint to use), then exits 1. Also prints the SQL
of a least-privilege role for the relay (login, REPLICATION, CONNECT; nothing else). Run it once as an
administrator; then the relay needs no more.

Flags:
${FLAGS.help}

Examples:
  DATABASE_URL=postgres://admin@db:5432/app factlib setup
  factlib setup --dry-run --database-url postgres://db.abc.eu-west-1.rds.amazonaws.com/app
  factlib setup --database-url postgres://admin@localhost/app --slot orders --publication orders --role orders_relay
  factlib setup --drop --slot orders --publication orders`,

  async run(argv) {
    const { values } = parseFlags('setup', argv, FLAGS.options)
    const flags = stringFlags(values)
    const role = flags.role ?? 'factlib_relay'
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role))
      throw new UsageError(`--role is ${JSON.stringify(role)}; expected lower-case letters, digits and _`)
    if (values['dry-run'] && values.drop) throw new UsageError('--dry-run and --drop exclude each other')
    const json = values.json === true
    const schedule = scheduleMinutes(values['schedule-minutes'])
    const print = (text: string) => process.stdout.write(`${text}\n`)

    if (values['dry-run']) {
      const url = flags['database-url'] ?? process.env.DATABASE_URL?.trim()
      const config = inspectConfig({ ...flags, 'database-url': url || 'postgres://localhost/database' })
      const provider = url ? detectProvider(url) : 'postgres'
      const database = url ? decodeURIComponent(new URL(url).pathname.slice(1)) || undefined : undefined
      const sql = {
        setup: setupSql(config.slot, config.publication, config.slotFailover),
        role: relayRoleSql(provider, role, database),
      }
      if (json) print(JSON.stringify({ sql }))
      else
        print(
          [
            '-- factlib setup: as a role with REPLICATION and CREATE on the database (an administrator)',
            ...(config.slotFailover
              ? ['-- before PostgreSQL 17, without ", failover => true" (failover slots need 17)']
              : []),
            ...sql.setup,
            '',
            '-- a least-privilege role for the relay',
            ...sql.role,
          ].join('\n'),
        )
      return 0
    }

    const config = inspectConfig(flags)
    const provider = detectProvider(config.databaseUrl)
    const client = await connectDatabase(config.databaseUrl, 'setup')
    try {
      if (values.drop) return await drop(client, config.slot, config.publication, json)
      const { database, failover } = await failoverHere(client, config.slotFailover)
      const sql = {
        setup: setupSql(config.slot, config.publication, failover),
        role: relayRoleSql(provider, role, database),
      }
      const checks = await checkDatabase(client, config.databaseUrl, { scheduleMinutes: schedule })
      const failed = checks.filter((check) => check.status === 'fail')
      if (failed.length) {
        if (json)
          print(JSON.stringify({ ok: false, checks, created: { publication: false, slot: false }, sql }))
        else
          print(
            [
              `factlib setup: ${redactUrl(config.databaseUrl)} is not ready; nothing was created. Fix this first:`,
              '',
              checksTable(checks),
              '',
              'Then run factlib setup again. It runs, as an administrator:',
              ...sql.setup.map((line) => `  ${line}`),
            ].join('\n'),
          )
        return 1
      }
      const hadPublication =
        (await client.query('select 1 from pg_publication where pubname = $1', [config.publication]))
          .rowCount === 1
      const hadSlot = (await readSlot(client, config.slot)) !== undefined
      const state = await ensureSlot(
        client,
        { ...config, createSlot: config.createSlot === 'force' ? 'force' : 'true' },
        silentLogger,
      )
      const created = { publication: !hadPublication, slot: !hadSlot }
      const standbyUrls = values['standby-url']
      checks.push(
        ...(await checkFailover(client, {
          ...config,
          standbyUrls: Array.isArray(standbyUrls) ? standbyUrls.map(String) : [],
        })),
      )
      if (json) {
        print(
          JSON.stringify({
            ok: true,
            checks,
            created,
            confirmedLsn: formatLsn(state.confirmedFlushLsn),
            sql,
          }),
        )
        return 0
      }
      const user = new URL(config.databaseUrl)
      user.username = role
      user.password = '<password>'
      print(
        [
          `factlib setup: ${redactUrl(config.databaseUrl)}`,
          '',
          checksTable(checks),
          '',
          created.publication
            ? `Created publication "${config.publication}".`
            : `Publication "${config.publication}" exists already.`,
          created.slot
            ? `Created replication slot "${config.slot}" (pgoutput) at ${formatLsn(state.confirmedFlushLsn)}: facts committed from now on are kept for the relay.${state.failover ? ' It is a failover slot: standbys running sync_replication_slots = on keep it through a promotion.' : ''}`
            : `Replication slot "${config.slot}" exists already (pgoutput, confirmed up to ${formatLsn(state.confirmedFlushLsn)}).`,
          '',
          'A least-privilege role for the relay (run as an administrator, with a password of your choice):',
          ...sql.role.map((line) => `  ${line}`),
          'Then run the relay as that role, never creating anything:',
          `  DATABASE_URL=${user.toString().replace('%3Cpassword%3E', '<password>')} FACTLIB_CREATE_SLOT=false factlib relay`,
        ].join('\n'),
      )
      return 0
    } finally {
      await client.end().catch(() => {})
    }
  },
}

async function drop(client: pg.Client, slot: string, publication: string, json: boolean): Promise<number> {
  const state = await readSlot(client, slot)
  if (state?.activePid)
    throw new FactlibError(
      'SLOT_ACTIVE',
      `replication slot "${slot}" is streamed by server process ${state.activePid} (a relay): stop it first`,
    )
  if (state) await client.query('select pg_drop_replication_slot($1)', [slot])
  const hadPublication =
    (await client.query('select 1 from pg_publication where pubname = $1', [publication])).rowCount === 1
  if (hadPublication) await client.query(`drop publication ${quoteIdent(publication)}`)
  const dropped = { slot: state !== undefined, publication: hadPublication }
  process.stdout.write(
    json
      ? `${JSON.stringify({ dropped })}\n`
      : `${dropped.slot ? `Dropped replication slot "${slot}".` : `No replication slot "${slot}".`} ` +
          `${dropped.publication ? `Dropped publication "${publication}".` : `No publication "${publication}".`}\n`,
  )
  return 0
}
