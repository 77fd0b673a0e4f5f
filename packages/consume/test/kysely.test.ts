import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, describe } from 'vitest'
import { endPool, freshDatabase } from '../../../test/harness/index.js'
import { fromKysely } from '../src/kysely.js'
import { afterWrite, type Driver, inboxContract } from './support/inbox.js'

const db = await freshDatabase('consume_kysely')
const pool = new pg.Pool({ connectionString: db.url, max: 2 })
// biome-ignore lint/suspicious/noExplicitAny: tables are created per test with random names
const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
afterAll(() => endPool(pool, () => kysely.destroy()))

const kyselyDriver = (): Driver => ({
  handle: (inbox, fact, effects, step) =>
    kysely.transaction().execute(async (trx) => {
      if (!(await inbox.claim(fromKysely(trx), fact))) return false
      await trx.insertInto(effects).values({ consumer: inbox.consumer, fact_id: fact.id }).execute()
      await afterWrite(step)
      return true
    }),
  transaction: (work) => kysely.transaction().execute((trx) => work(fromKysely(trx))),
  misuse: () => fromKysely(kysely as never),
  refusedWith: 'CONSUME_NOT_IN_TRANSACTION',
})

describe('Kysely: fromKysely inside db.transaction().execute', () => {
  inboxContract(db.url, kyselyDriver)
})
