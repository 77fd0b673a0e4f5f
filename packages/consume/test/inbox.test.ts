import { readFile } from 'node:fs/promises'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { endPool, freshDatabase, withClient } from '../../../test/harness/index.js'
import { createInbox, type Fact, inboxSql, migrateInbox, route } from '../src/index.js'
import { effectSql, fact, inboxContract, inboxTables, pgShaped, rowsOf } from './support/inbox.js'

const db = await freshDatabase('consume')
// Each handle() takes its own client from the pool: two at once for the concurrent redelivery.
const pool = new pg.Pool({ connectionString: db.url, max: 2 })
afterAll(() => endPool(pool))

async function connected<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    return await work(client)
  } finally {
    client.release()
  }
}

const nodePostgres = pgShaped(connected, (inbox) => inbox.handle(pool, fact(), () => {}))

describe('inbox.handle with node-postgres (the core, no adapter)', () => {
  inboxContract(db.url, nodePostgres)

  test('claim inside your own transaction: a rolled-back savepoint releases the claim', async () => {
    const { inbox, table } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    await connected(async (client) => {
      await client.query('begin')
      await client.query('savepoint one')
      expect(await shipping.claim(client, one)).toBe(true)
      await client.query('rollback to savepoint one')
      expect(await shipping.claim(client, one)).toBe(true)
      expect(await shipping.claim(client, one)).toBe(false)
      await client.query('commit')
    })
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${one.id}`])
  })

  test('a handler that swallows its own SQL error: the commit is a rollback, so handle fails with CONSUME_TX_ABORTED and nothing stays', async () => {
    const { inbox, table, effects } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    const swallowing = (each: Fact, tx: pg.PoolClient) =>
      tx
        .query(effectSql(effects), [shipping.consumer, each.id])
        .then(() => tx.query('select 1/0'))
        .catch(() => {})
    await expect(connected((client) => shipping.handle(client, one, swallowing))).rejects.toMatchObject({
      code: 'CONSUME_TX_ABORTED',
    })
    expect(await rowsOf(db.url, table)).toEqual([])
    expect(await rowsOf(db.url, effects)).toEqual([])
    // Reported as not handled, so the retry runs it, once.
    expect(await connected((client) => shipping.handle(client, one, () => {}))).toBe(true)
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${one.id}`])
  })

  test("handle on a client already in a transaction is refused, and the caller's transaction is untouched", async () => {
    const { inbox, table, effects } = await inboxTables(db.url)
    const shipping = inbox()
    await connected(async (client) => {
      await client.query('begin')
      await client.query(effectSql(effects), ['caller', 'mine'])
      await expect(shipping.handle(client, fact(), () => {})).rejects.toMatchObject({
        code: 'CONSUME_IN_TRANSACTION',
      })
      await client.query('rollback')
    })
    expect(await rowsOf(db.url, effects)).toEqual([])
    expect(await rowsOf(db.url, table)).toEqual([])
  })

  test('claim on a node-postgres client outside a transaction is refused: it would commit before the handler', async () => {
    const { inbox, table } = await inboxTables(db.url)
    await expect(connected((client) => inbox().claim(client, fact()))).rejects.toMatchObject({
      code: 'CONSUME_NOT_IN_TRANSACTION',
    })
    expect(await rowsOf(db.url, table)).toEqual([])
  })

  test('something without query() is refused with CONSUME_TX_INVALID', async () => {
    const shipping = createInbox({ consumer: 'shipping' })
    await expect(shipping.claim({} as never, fact())).rejects.toMatchObject({ code: 'CONSUME_TX_INVALID' })
  })
})

describe('the inbox table', () => {
  test('migrateInbox creates the default table idempotently, keyed by consumer and fact id', async () => {
    await withClient(db.url, async (client) => {
      await migrateInbox(client)
      await migrateInbox(client)
      const { rows } = await client.query<{ column: string }>(
        `select a.attname as column from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
         where i.indrelid = 'factlib_inbox'::regclass and i.indisprimary order by a.attnum`,
      )
      expect(rows.map((row) => row.column)).toEqual(['consumer', 'fact_id'])
    })
  })

  test('the shipped inbox.sql is inboxSql() for the default table', async () => {
    const file = await readFile(new URL('../inbox.sql', import.meta.url), 'utf8')
    const statements = file
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
      .split(';')
      .map((statement) => statement.trim())
      .filter(Boolean)
    expect(statements).toEqual(inboxSql())
  })

  test('a schema-qualified table', async () => {
    await withClient(db.url, (client) => client.query('create schema if not exists app'))
    expect(inboxSql('app.inbox')).toEqual([
      expect.stringContaining('create table if not exists app.inbox ('),
      'create index if not exists inbox_handled_at on app.inbox (handled_at)',
    ])
    await withClient(db.url, (client) => migrateInbox(client, 'app.inbox'))
    const inbox = createInbox({ consumer: 'shipping', table: 'app.inbox' })
    expect(await connected((client) => inbox.handle(client, fact(), () => {}))).toBe(true)
  })

  test.each([
    [{ consumer: '' }, /name the consumer/],
    [{ consumer: 'shipping', table: 'Inbox; drop table x' }, /lower-case SQL name/],
  ])('createInbox(%j) fails with OPTIONS_INVALID', (options, message) => {
    expect(() => createInbox(options)).toThrow(
      expect.objectContaining({ code: 'OPTIONS_INVALID', message: expect.stringMatching(message) }),
    )
  })
})

describe('route', () => {
  type Orders = { 'order.placed': { total: number } }
  const seen: string[] = []
  const handlers = {
    'order.placed': (fact: Fact<{ total: number }>, tag: string) => {
      seen.push(`${tag} ${fact.data.total}`)
    },
  }

  test('dispatches by type, with the context', async () => {
    seen.length = 0
    expect(await route<Orders, string>(handlers, { unknown: 'fail' })(fact(), 'tx')).toBe(true)
    expect(seen).toEqual(['tx 9'])
  })

  test("an unknown type is skipped with 'skip', and fails with UNKNOWN_FACT_TYPE with 'fail'", async () => {
    seen.length = 0
    const shipped = fact('order.shipped')
    expect(await route<Orders, string>(handlers, { unknown: 'skip' })(shipped, 'tx')).toBe(false)
    await expect(route<Orders, string>(handlers, { unknown: 'fail' })(shipped, 'tx')).rejects.toMatchObject({
      code: 'UNKNOWN_FACT_TYPE',
      message: expect.stringContaining("route with { unknown: 'skip' }"),
    })
    // A type that is only an Object.prototype key is unknown too.
    await expect(
      route<Orders, string>(handlers, { unknown: 'fail' })(fact('toString'), 'tx'),
    ).rejects.toMatchObject({
      code: 'UNKNOWN_FACT_TYPE',
    })
    expect(seen).toEqual([])
  })

  test('inside inbox.handle: a failed unknown type leaves the fact unhandled, a skipped one is recorded', async () => {
    const { inbox, effects, table } = await inboxTables(db.url)
    const shipping = inbox()
    const placed = fact()
    const shipped = fact('order.shipped')
    const routed = (unknown: 'skip' | 'fail') =>
      route<Orders, pg.ClientBase>(
        { 'order.placed': (each, tx) => tx.query(effectSql(effects), [shipping.consumer, each.id]) },
        { unknown },
      )
    expect(await connected((client) => shipping.handle(client, placed, routed('fail')))).toBe(true)
    await expect(
      connected((client) => shipping.handle(client, shipped, routed('fail'))),
    ).rejects.toMatchObject({
      code: 'UNKNOWN_FACT_TYPE',
    })
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${placed.id}`])
    expect(await connected((client) => shipping.handle(client, shipped, routed('skip')))).toBe(true)
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${placed.id}`, `shipping ${shipped.id}`].sort())
    expect(await rowsOf(db.url, effects)).toEqual([`shipping ${placed.id}`])
  })
})
