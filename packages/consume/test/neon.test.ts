import { Client, neon, neonConfig, Pool } from '@neondatabase/serverless'
import { describe, expect, test } from 'vitest'
import { freshDatabase, routeNeonToHarness, withClient } from '../../../test/harness/index.js'
import { createInbox, migrateInbox } from '../src/index.js'
import { handleOnNeon } from '../src/neon.js'
import {
  effectSql,
  fact,
  inboxContract,
  inboxTables,
  lockWaiters,
  pgShaped,
  rowsOf,
} from './support/inbox.js'

// The driver's configuration is global: this file routes it to the run's PostgreSQL through the bridges.
routeNeonToHarness(neonConfig)

const db = await freshDatabase('consume_neon')

async function connected<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(db.url)
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

const webSocket = pgShaped(connected, async (inbox) => {
  const pool = new Pool({ connectionString: db.url })
  try {
    await inbox.handle(pool, fact(), () => {})
  } finally {
    await pool.end()
  }
})

describe('Neon WebSocket Client: the core directly', () => {
  inboxContract(db.url, webSocket)
})

const sql = neon(db.url)
type Http = typeof sql

describe('Neon HTTP: handleOnNeon', () => {
  test('the first delivery commits the insert with the queries; a redelivery resolves false and writes nothing', async () => {
    const { inbox, effects, table } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    const handled: boolean[] = []
    for (let run = 0; run < 3; run++)
      handled.push(
        await handleOnNeon(sql, shipping, one, (sql) => [
          sql`insert into ${sql.unsafe(effects)} (consumer, fact_id) values (${shipping.consumer}, ${one.id})`,
          sql.query(effectSql(effects), ['second query', one.id]),
        ]),
      )
    expect(handled).toEqual([true, false, false])
    expect(await rowsOf(db.url, effects)).toEqual([`second query ${one.id}`, `shipping ${one.id}`])
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${one.id}`])
  })

  test("a unique violation of the handler's own query propagates and leaves no inbox row", async () => {
    const { inbox, table } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    await withClient(db.url, (client) => client.query(`create table orders_${table} (id text primary key)`))
    const insert = (sql: Http) => [
      sql.query(`insert into orders_${table} (id) values ($1)`, [one.aggregateId]),
    ]
    expect(await handleOnNeon(sql, shipping, fact(), insert)).toBe(true)
    await expect(handleOnNeon(sql, shipping, one, insert)).rejects.toMatchObject({
      code: '23505',
      constraint: `orders_${table}_pkey`,
    })
    expect(await rowsOf(db.url, table)).not.toContain(`shipping ${one.id}`)
  })

  test('a failing query rolls back the insert; the retry handles the fact once', async () => {
    const { inbox, effects, table } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    const queries = (fail: boolean) => (sql: Http) => [
      sql.query(effectSql(effects), [shipping.consumer, one.id]),
      ...(fail ? [sql`select 1 / 0`] : []),
    ]
    await expect(handleOnNeon(sql, shipping, one, queries(true))).rejects.toMatchObject({ code: '22012' })
    expect(await rowsOf(db.url, effects)).toEqual([])
    expect(await rowsOf(db.url, table)).toEqual([])
    expect(await handleOnNeon(sql, shipping, one, queries(false))).toBe(true)
    expect(await handleOnNeon(sql, shipping, one, queries(false))).toBe(false)
    expect(await rowsOf(db.url, effects)).toEqual([`shipping ${one.id}`])
  })

  test('two consumers over one table, in a schema-qualified table, each handle every fact once', async () => {
    await withClient(db.url, async (client) => {
      await client.query('create schema if not exists app')
      await migrateInbox(client, 'app.neon_inbox')
    })
    const consumers = [
      createInbox({ consumer: 'shipping', table: 'app.neon_inbox' }),
      createInbox({ consumer: 'billing', table: 'app.neon_inbox' }),
    ]
    const one = fact()
    const handled: boolean[] = []
    for (let run = 0; run < 2; run++)
      for (const consumer of consumers) handled.push(await handleOnNeon(sql, consumer, one, () => []))
    expect(handled).toEqual([true, true, false, false])
    expect(await rowsOf(db.url, 'app.neon_inbox')).toEqual([`billing ${one.id}`, `shipping ${one.id}`])
  })

  test("a table name longer than PostgreSQL's key names: the truncated key is still the inbox's", async () => {
    const table = `inbox_${'x'.repeat(60)}`
    await withClient(db.url, (client) => migrateInbox(client, table))
    const shipping = createInbox({ consumer: 'shipping', table })
    const one = fact()
    expect([
      await handleOnNeon(sql, shipping, one, () => []),
      await handleOnNeon(sql, shipping, one, () => []),
    ]).toEqual([true, false])
  })

  test('concurrent redelivery: the second request waits on the inbox row, then resolves false', async () => {
    const { inbox, effects, table } = await inboxTables(db.url)
    const shipping = inbox()
    const one = fact()
    const key = Math.floor(Math.random() * 2 ** 31)
    // A session lock holds the first transaction after its inbox insert, until the test releases it.
    const holder = new Client(db.url)
    await holder.connect()
    try {
      await holder.query('select pg_advisory_lock($1)', [key])
      const queries = (sql: Http) => [
        sql.query(effectSql(effects), [shipping.consumer, one.id]),
        sql.query('select pg_advisory_xact_lock_shared($1)', [key]),
      ]
      const first = handleOnNeon(sql, shipping, one, queries)
      await lockWaiters(db.url, 1)
      const second = handleOnNeon(sql, shipping, one, queries)
      await lockWaiters(db.url, 2)
      await holder.query('select pg_advisory_unlock($1)', [key])
      expect([await first, await second]).toEqual([true, false])
    } finally {
      await holder.end()
    }
    expect(await rowsOf(db.url, effects)).toEqual([`shipping ${one.id}`])
    expect(await rowsOf(db.url, table)).toEqual([`shipping ${one.id}`])
  })

  test('a Neon WebSocket Client is refused by handleOnNeon, neon() by the core', async () => {
    const shipping = createInbox({ consumer: 'shipping' })
    await expect(handleOnNeon(new Client(db.url) as never, shipping, fact(), () => [])).rejects.toMatchObject(
      {
        code: 'CONSUME_TX_INVALID',
        message: expect.stringContaining('inbox.handle'),
      },
    )
    await expect(shipping.claim(sql, fact())).rejects.toMatchObject({ code: 'CONSUME_NOT_IN_TRANSACTION' })
  })
})
