import { Pool as NeonPool, neon, neonConfig } from '@neondatabase/serverless'
import { drizzle as drizzleNeonHttp } from 'drizzle-orm/neon-http'
import { drizzle as drizzleNeon } from 'drizzle-orm/neon-serverless'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { pgTable, text } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import pg from 'pg'
import postgres from 'postgres'
import { afterAll, describe, expect, test } from 'vitest'
import { endPool, freshDatabase, routeNeonToHarness } from '../../../test/harness/index.js'
import { fromDrizzle } from '../src/drizzle.js'
import { afterWrite, type Driver, inboxContract } from './support/inbox.js'

routeNeonToHarness(neonConfig)

const db = await freshDatabase('consume_drizzle')
const pgPool = new pg.Pool({ connectionString: db.url, max: 2 })
const postgresSql = postgres(db.url, { max: 2, onnotice: () => {} })
const neonPool = new NeonPool({ connectionString: db.url, max: 2 })
// Neon's pool.end() resolves before its WebSockets have closed: see packages/emit/test/drizzle.test.ts.
neonPool.on('error', () => {})
afterAll(() => Promise.all([endPool(pgPool), postgresSql.end(), neonPool.end()]))

// Over node-postgres and Neon execute() resolves to { rows }, over postgres.js to the rows themselves.
const databases = {
  'node-postgres': drizzlePg(pgPool),
  'postgres.js': drizzlePostgres(postgresSql),
  'Neon WebSocket': drizzleNeon({ client: neonPool }),
}

const drizzleDriver = (name: keyof typeof databases) => (): Driver => {
  const database = databases[name]
  return {
    handle: (inbox, fact, effects, step) =>
      database.transaction(async (tx) => {
        if (!(await inbox.claim(fromDrizzle(tx), fact))) return false
        const table = pgTable(effects, {
          consumer: text('consumer').notNull(),
          factId: text('fact_id').notNull(),
        })
        await tx.insert(table).values({ consumer: inbox.consumer, factId: fact.id })
        await afterWrite(step)
        return true
      }),
    transaction: (work) => database.transaction((tx) => work(fromDrizzle(tx))),
    misuse: () => fromDrizzle(database as never),
    refusedWith: 'CONSUME_NOT_IN_TRANSACTION',
  }
}

describe.each(Object.keys(databases) as Array<keyof typeof databases>)(
  'Drizzle over %s: fromDrizzle',
  (name) => {
    inboxContract(db.url, drizzleDriver(name))
  },
)

describe('Drizzle over Neon HTTP (drizzle-orm/neon-http)', () => {
  test('has no interactive transactions, and its db object is refused: use @factlib/consume/neon', async () => {
    const database = drizzleNeonHttp({ client: neon(db.url) })
    await expect(database.transaction(async () => {})).rejects.toThrow(/transaction/i)
    expect(() => fromDrizzle(database as never)).toThrow(
      expect.objectContaining({ code: 'CONSUME_NOT_IN_TRANSACTION' }),
    )
  })
})
