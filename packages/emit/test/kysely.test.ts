import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { endPool } from '../../../test/harness/index.js'
import { createEmitter } from '../src/index.js'
import { fromKysely } from '../src/kysely.js'
import { createTable, expectedContent, idsIn, order, uniqueSource, walDatabase } from './helpers.js'

const { db, messages } = await walDatabase('kysely')
const pool = new pg.Pool({ connectionString: db.url, max: 2 })
// biome-ignore lint/suspicious/noExplicitAny: tables are created per test with random names
const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
afterAll(() => endPool(pool, () => kysely.destroy()))

describe('Kysely', () => {
  test('a transaction commits the facts with the writes', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable(db.url)
    const emitted = await kysely.transaction().execute(async (trx) => {
      await trx.insertInto(table).values({ id: '42' }).execute()
      return facts.emit(fromKysely(trx), [
        order('42'),
        { ...order('42'), payload: 'a\u0000b', data: undefined },
      ])
    })
    expect(await idsIn(db.url, table)).toEqual(['42'])
    expect((await messages(source)).map((message) => message.content.toString('hex'))).toEqual(
      emitted.map((fact) => expectedContent(fact).toString('hex')),
    )
  })

  test('a transaction that throws emits nothing', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable(db.url)
    await expect(
      kysely.transaction().execute(async (trx) => {
        await trx.insertInto(table).values({ id: '1' }).execute()
        await facts.emit(fromKysely(trx), order('1'))
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    const marker = await kysely.transaction().execute((trx) => facts.emit(fromKysely(trx), order('marker')))
    expect(await idsIn(db.url, table)).toEqual([])
    expect((await messages(source)).map((message) => message.content.toString())).toEqual([
      expectedContent(marker).toString(),
    ])
  })

  test('the Kysely instance itself is refused', () => {
    expect(() => fromKysely(kysely as never)).toThrow(
      expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }),
    )
  })
})
