import { parseLsn } from '@factlib/relay'
import pg from 'pg'
import { createDatabase, withClient } from '../test/harness/postgres.js'
import { benchEmitter, envelopeContent, factInput, SOURCE } from './facts.js'
import { sleep } from './services.js'

export { createDatabase, withClient }

/** A publication and a pgoutput slot per reader; slots exist before the facts they are to read. */
export async function createSlots(url: string, publication: string, slots: string[]): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`create publication ${publication}`)
    for (const slot of slots)
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot])
  })
}

export async function dropSlot(url: string, slot: string): Promise<void> {
  await withClient(url, async (client) => {
    for (let attempt = 0; ; attempt++)
      try {
        await client.query(
          'select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null',
          [slot],
        )
        await client.query(
          'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
          [slot],
        )
        return
      } catch (error) {
        if (attempt > 100) throw error
        await sleep(50)
      }
  })
}

export async function currentLsn(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
  return parseLsn(rows[0]?.lsn ?? '0/0')
}

/**
 * Single-fact transactions emitted from inside the server (a procedure that commits after each message),
 * so a backlog of 100k facts takes seconds rather than a round trip per commit; the content is what `emit()`
 * writes.
 */
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
 * Writes `count` single-fact transactions with `bytes`-long payloads. Resolves to a position between the
 * last transaction's message and its commit: a reader has seen (or confirmed) the last transaction exactly
 * when its position passed this one.
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
      const contents = numbers.map((n) => envelopeContent(emitter, factInput(first + n, bytes)).content)
      await client.query('insert into bench_backlog_staging select * from unnest($1::int[], $2::text[])', [
        numbers,
        contents,
      ])
    }
    const { rows } = await client.query<{ before_last_commit: string }>(
      `call bench_emit_backlog('${SOURCE}')`,
    )
    await client.query('truncate bench_backlog_staging')
    return parseLsn(rows[0]?.before_last_commit ?? '0/0')
  })
}

/** A client that polls a slot's positions (prepared statements) and its walsender's PID. */
export async function positionReader(url: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const one = async (name: string, text: string, slot: string) => {
    const { rows } = await client.query<{ lsn: string | null }>({ name, text, values: [slot] })
    return rows[0]?.lsn ? parseLsn(rows[0].lsn) : undefined
  }
  return {
    confirmed: (slot: string) =>
      one(
        'confirmed',
        'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1',
        slot,
      ),
    /** What the slot's walsender has decoded and sent so far. */
    sent: (slot: string) =>
      one(
        'sent',
        `select r.sent_lsn::text as lsn from pg_stat_replication r
           join pg_replication_slots s on s.active_pid = r.pid where s.slot_name = $1`,
        slot,
      ),
    async walsenderPid(slot: string): Promise<number> {
      const { rows } = await client.query<{ pid: number | null }>(
        'select active_pid as pid from pg_replication_slots where slot_name = $1',
        [slot],
      )
      return rows[0]?.pid ?? 0
    },
    close: () => client.end(),
  }
}

/** A publication, a slot per reader (before the facts), then `warm` warm-up facts and `facts` measured ones. */
export async function prepareBacklog(
  url: string,
  slots: string[],
  size: { facts: number; warm: number; bytes: number },
) {
  await createSlots(url, 'bench_pub', slots)
  const warmMark = await emitBacklog(url, size.warm, size.bytes)
  const endMark = await emitBacklog(url, size.facts, size.bytes, size.warm)
  return { url, publication: 'bench_pub', facts: size.facts, warm: size.warm, warmMark, endMark }
}
