import { parseLsn } from '@factlib/relay'
import pg from 'pg'
import { createDatabase, withClient } from '../test/harness/postgres.js'
import { benchEmitter, envelopeContent, factInput, SOURCE } from './facts.js'
import type { Services } from './services.js'

export { withClient }
/** The publication every benchmark's slots read. */
export const PUBLICATION = 'bench_pub'

/** A database of its own for `work`, with the publication and the slots, made before any fact. */
export async function withDatabase<T>(services: Services, slots: string[], work: (url: string) => T) {
  const db = await createDatabase(services.url, 'bench')
  const createSlot = `select pg_create_logical_replication_slot($1, 'pgoutput')`
  try {
    await withClient(db.url, async (client) => {
      await client.query(`create publication ${PUBLICATION}`)
      for (const slot of slots) await client.query(createSlot, [slot])
    })
    return await work(db.url)
  } finally {
    await db.drop()
  }
}

export async function currentLsn(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
  return parseLsn(rows[0]?.lsn ?? '0/0')
}

/** Single-fact transactions committed inside the server: 100k take seconds, not 100k round trips. */
const BACKLOG_SQL = `
create unlogged table if not exists bench_backlog_staging (n int primary key, content text not null);
create or replace procedure bench_emit_backlog(source text, inout before_last_commit pg_lsn default null)
language plpgsql as $$
declare
  r record;
  last int;
begin
  select max(n) into last from bench_backlog_staging;
  for r in select n, content from bench_backlog_staging order by n loop
    perform pg_logical_emit_message(true, source, r.content);
    if r.n = last then before_last_commit := pg_current_wal_insert_lsn(); end if;
    commit;
  end loop;
end $$;`

/**
 * Writes `count` single-fact transactions with `bytes`-long payloads. Resolves to a position between the last
 * one's message and its commit: a reader has confirmed the last transaction exactly when it passed this one.
 */
export async function emitBacklog(url: string, count: number, bytes: number, first = 0): Promise<bigint> {
  const emitter = benchEmitter()
  return withClient(url, async (client) => {
    // Commits need not wait for the disk here: the WAL they leave is the same.
    await client.query('set synchronous_commit = off')
    await client.query(BACKLOG_SQL)
    await client.query('truncate bench_backlog_staging')
    for (let start = 0; start < count; start += 5000) {
      const numbers = Array.from({ length: Math.min(5000, count - start) }, (_, i) => start + i)
      const contents = numbers.map((n) => envelopeContent(emitter, factInput(first + n, bytes)))
      const insert = 'insert into bench_backlog_staging select * from unnest($1::int[], $2::text[])'
      await client.query(insert, [numbers, contents])
    }
    const call = `call bench_emit_backlog('${SOURCE}')`
    const { rows } = await client.query<{ before_last_commit: string }>(call)
    await client.query('truncate bench_backlog_staging')
    return parseLsn(rows[0]?.before_last_commit ?? '0/0')
  })
}

const POSITIONS = `
select s.confirmed_flush_lsn::text as confirmed, r.sent_lsn::text as sent, s.active_pid as pid
  from pg_replication_slots s left join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = $1`

/** Polls a slot: its confirmed position, what its walsender has sent so far, and the walsender's PID. */
export async function positionReader(url: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const lsn = (text: string | null | undefined) => (text ? parseLsn(text) : undefined)
  return {
    async read(slot: string) {
      type Row = Record<'confirmed' | 'sent' | 'pid', string | null>
      const [row] = (await client.query<Row>({ name: 'positions', text: POSITIONS, values: [slot] })).rows
      return { confirmed: lsn(row?.confirmed), sent: lsn(row?.sent), walsender: Number(row?.pid ?? 0) }
    },
    close: () => client.end(),
  }
}

/** `warm` warm-up facts then `facts` measured ones, committed before any reader starts; their end marks. */
export interface Backlog extends Size {
  services: Services
  url: string
  warmMark: bigint
  endMark: bigint
}
export type Size = { facts: number; warm: number; bytes: number }
type Drain<T> = (backlog: Backlog) => Promise<T>

/** A database of its own with a slot per reader, then the backlog, for `work` to drain. */
export const withBacklog = <T>(services: Services, slots: string[], size: Size, work: Drain<T>) =>
  withDatabase(services, slots, async (url) => {
    const warmMark = await emitBacklog(url, size.warm, size.bytes)
    const endMark = await emitBacklog(url, size.facts, size.bytes, size.warm)
    return work({ services, url, ...size, warmMark, endMark })
  })
