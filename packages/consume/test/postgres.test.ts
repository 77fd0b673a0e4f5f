import postgres from 'postgres'
import { afterAll, describe } from 'vitest'
import { freshDatabase } from '../../../test/harness/index.js'
import type { Queryable } from '../src/index.js'
import { fromPostgres } from '../src/postgres.js'
import { afterWrite, type Driver, inboxContract } from './support/inbox.js'

const db = await freshDatabase('consume_pgjs')
const sql = postgres(db.url, { max: 2, onnotice: () => {} })
afterAll(() => sql.end())

const postgresJs = (): Driver => ({
  handle: (inbox, fact, effects, step) =>
    sql.begin(async (tx) => {
      if (!(await inbox.claim(fromPostgres(tx), fact))) return false
      await tx`insert into ${tx(effects)} (consumer, fact_id) values (${inbox.consumer}, ${fact.id})`
      await afterWrite(step)
      return true
    }),
  // sql.begin's type unwraps arrays of promises; work resolves to plain values here.
  transaction: <T>(work: (tx: Queryable) => Promise<T>) =>
    sql.begin((tx) => work(fromPostgres(tx))) as Promise<T>,
  misuse: () => fromPostgres(sql as never),
  refusedWith: 'CONSUME_NOT_IN_TRANSACTION',
})

describe('postgres.js: fromPostgres inside sql.begin', () => {
  inboxContract(db.url, postgresJs)
})
