import { Pool as NeonPool, neon, neonConfig } from '@neondatabase/serverless'
import { drizzle as drizzleNeonHttp } from 'drizzle-orm/neon-http'
import { drizzle as drizzleNeon } from 'drizzle-orm/neon-serverless'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { pgTable, text } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, describe, expect, test } from 'vitest'
import { endPool, routeNeonToHarness } from '../../../test/harness/index.js'
import { fromDrizzle } from '../src/drizzle.js'
import { createEmitter } from '../src/index.js'
import { createTable, expectedContent, idsIn, order, uniqueSource, walDatabase } from './helpers.js'

routeNeonToHarness(neonConfig)

const { db, messages } = await walDatabase('drizzle')

const pgPool = new pg.Pool({ connectionString: db.url, max: 2 })
const postgresSql = postgres(db.url, { max: 2, onnotice: () => {} })
const neonPool = new NeonPool({ connectionString: db.url })
// Neon's pool.end() resolves before its WebSockets have closed; when the file's database is then dropped
// (with force), a connection still closing reports 57P01 on the pool.
neonPool.on('error', () => {})
afterAll(() => Promise.all([endPool(pgPool), postgresSql.end(), neonPool.end()]))

const drivers = {
  'node-postgres': () => drizzlePg(pgPool),
  'postgres.js': () => drizzlePostgres(postgresSql),
  'Neon WebSocket': () => drizzleNeon({ client: neonPool }),
}

describe.each(Object.keys(drivers) as Array<keyof typeof drivers>)('Drizzle over %s', (driver) => {
  test('a transaction commits the facts with the writes', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const name = await createTable(db.url)
    const orders = pgTable(name, { id: text('id').primaryKey() })
    const database = drivers[driver]()
    const emitted = await database.transaction(async (tx) => {
      await tx.insert(orders).values({ id: '42' })
      return facts.emit(fromDrizzle(tx), [
        order('42'),
        { ...order('42'), payload: new Uint8Array([0xc3]), data: undefined },
      ])
    })
    expect(await idsIn(db.url, name)).toEqual(['42'])
    expect((await messages(source)).map((message) => message.content.toString('hex'))).toEqual(
      emitted.map((fact) => expectedContent(fact).toString('hex')),
    )
  })

  test('a transaction that throws emits nothing', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const name = await createTable(db.url)
    const orders = pgTable(name, { id: text('id').primaryKey() })
    const database = drivers[driver]()
    await expect(
      database.transaction(async (tx) => {
        await tx.insert(orders).values({ id: '1' })
        await facts.emit(fromDrizzle(tx), order('1'))
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    const marker = await database.transaction((tx) => facts.emit(fromDrizzle(tx), order('marker')))
    expect(await idsIn(db.url, name)).toEqual([])
    expect((await messages(source)).map((message) => message.content.toString())).toEqual([
      expectedContent(marker).toString(),
    ])
  })

  test('the database object itself is refused', () => {
    expect(() => fromDrizzle(drivers[driver]() as never)).toThrow(
      expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }),
    )
  })
})

describe('Drizzle over Neon HTTP (drizzle-orm/neon-http)', () => {
  test('cannot emit atomically: it has no interactive transactions, and its db object is refused', async () => {
    const database = drizzleNeonHttp({ client: neon(db.url) })
    await expect(database.transaction(async () => {})).rejects.toThrow(/transaction/i)
    expect(() => fromDrizzle(database as never)).toThrow(
      expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }),
    )
  })
})
