import { Client, neon, neonConfig, Pool } from '@neondatabase/serverless'
import { describe, expect, test } from 'vitest'
import { routeNeonToHarness, uniqueName, withClient } from '../../../test/harness/index.js'
import { createEmitter, type Fact } from '../src/index.js'
import { emitQuery } from '../src/neon.js'
import { expectedContent, order, uniqueSource, walDatabase } from './helpers.js'

// The driver's configuration is global: this file routes it to the run's PostgreSQL through the bridges.
routeNeonToHarness(neonConfig)

const { db, messages } = await walDatabase('neon')

async function createTable(): Promise<string> {
  const table = uniqueName('orders')
  await withClient(db.url, (client) => client.query(`create table ${table} (id text primary key)`))
  return table
}
const rowsOf = (table: string) =>
  withClient(db.url, async (client) => (await client.query(`select id from ${table} order by id`)).rows)
const contents = async (source: string) =>
  (await messages(source)).map((message) => message.content.toString('hex'))
const hexOf = (facts: Fact[]) => facts.map((fact) => expectedContent(fact).toString('hex'))

describe('WebSocket', () => {
  const sessions = {
    Client: async () => {
      const client = new Client(db.url)
      await client.connect()
      return { tx: client, close: () => client.end() }
    },
    'client from Pool.connect()': async () => {
      const pool = new Pool({ connectionString: db.url })
      // pool.end() resolves before the WebSocket has closed: see drizzle.test.ts.
      pool.on('error', () => {})
      const client = await pool.connect()
      return {
        tx: client,
        close: async () => {
          client.release()
          await pool.end()
        },
      }
    },
  }

  describe.each(Object.keys(sessions) as Array<keyof typeof sessions>)('%s', (kind) => {
    test.each(['commit', 'rollback'] as const)('on %s, the facts go with the row', async (end) => {
      const source = uniqueSource()
      const facts = createEmitter({ source })
      const table = await createTable()
      const { tx, close } = await sessions[kind]()
      let emitted: Fact[] = []
      try {
        await tx.query('begin')
        await tx.query(`insert into ${table} (id) values ($1)`, ['42'])
        emitted = await facts.emit(tx, [
          order('42'),
          { ...order('42'), payload: new Uint8Array([0, 1]), data: undefined },
        ])
        await tx.query(end)
      } finally {
        await close()
      }
      if (end === 'commit') {
        expect(await rowsOf(table)).toEqual([{ id: '42' }])
        expect(await contents(source)).toEqual(hexOf(emitted))
      } else {
        expect(await rowsOf(table)).toEqual([])
        // A committed marker proves the slot has decoded past the rolled-back transaction.
        await withClient(db.url, (client) => facts.emit(client, order('marker')))
        expect(await messages(source)).toHaveLength(1)
      }
    })
  })

  test('a Neon Pool is rejected: its queries may run outside the transaction', async () => {
    const pool = new Pool({ connectionString: db.url })
    try {
      await expect(createEmitter({ source: 'orders' }).emit(pool, order('1'))).rejects.toMatchObject({
        code: 'EMIT_POOL_NOT_ALLOWED',
      })
      expect(pool.totalCount).toBe(0)
    } finally {
      await pool.end()
    }
  })
})

describe('HTTP', () => {
  test('emitQuery inside sql.transaction commits the facts with the writes', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable()
    const sql = neon(db.url)
    const placed = facts.prepare([order('7'), { ...order('7'), type: 'order.paid' }])
    const results = await sql.transaction([
      sql.query(`insert into ${table} (id) values ($1)`, ['7']),
      emitQuery(sql, placed),
    ])
    expect(results).toHaveLength(2)
    expect(await rowsOf(table)).toEqual([{ id: '7' }])
    expect(await contents(source)).toEqual(hexOf(placed.facts))
  })

  test('a failing sql.transaction emits nothing', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable()
    await withClient(db.url, (client) => client.query(`insert into ${table} (id) values ('7')`))
    const sql = neon(db.url)
    const error = await sql
      .transaction([
        emitQuery(sql, facts.prepare(order('7'))),
        sql.query(`insert into ${table} (id) values ($1)`, ['7']),
      ])
      .catch((error: unknown) => error)
    expect(error).toMatchObject({ code: '23505' })
    await withClient(db.url, (client) => facts.emit(client, order('marker')))
    expect(await messages(source)).toHaveLength(1)
  })

  test('a binary payload goes through the HTTP endpoint byte-exact', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const sql = neon(db.url)
    const placed = facts.prepare({
      aggregateType: 'blob',
      aggregateId: '1',
      type: 'blob.stored',
      payload: new Uint8Array([0xff, 0, 10]),
    })
    await sql.transaction([emitQuery(sql, placed)])
    expect(await contents(source)).toEqual(hexOf(placed.facts))
  })

  test('emit(neon()) is refused: each HTTP query is a transaction of its own', async () => {
    const sql = neon(db.url)
    await expect(createEmitter({ source: 'orders' }).emit(sql, order('1'))).rejects.toMatchObject({
      code: 'EMIT_NOT_IN_TRANSACTION',
    })
  })

  test('emitQuery refuses something that is not neon()', () => {
    const client = new Client(db.url)
    expect(() => emitQuery(client as never, createEmitter({ source: 'orders' }).prepare(order('1')))).toThrow(
      expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }),
    )
  })
})
