import postgres from 'postgres'
import { afterAll, describe, expect, test } from 'vitest'
import { createEmitter, type Fact } from '../src/index.js'
import { fromPostgres } from '../src/postgres.js'
import { createTable, expectedContent, idsIn, order, uniqueSource, walDatabase } from './helpers.js'

const { db, messages } = await walDatabase('pgjs')
const sql = postgres(db.url, { max: 2, onnotice: () => {} })
afterAll(() => sql.end())

describe('postgres.js', () => {
  test('sql.begin commits the facts with the writes, in order, byte-exact', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable(db.url)
    const emitted = await sql.begin(async (tx) => {
      await tx`insert into ${tx(table)} (id) values (${'42'})`
      const one = await facts.emit(fromPostgres(tx), order('42'))
      const many = await facts.emit(fromPostgres(tx), [
        { ...order('42'), type: 'order.paid' },
        { aggregateType: 'blob', aggregateId: '42', type: 'blob.stored', payload: new Uint8Array([0, 0xff]) },
      ])
      return [one, ...many]
    })
    expect(await idsIn(db.url, table)).toEqual(['42'])
    expect((await messages(source)).map((message) => message.content.toString('hex'))).toEqual(
      emitted.map((fact: Fact) => expectedContent(fact).toString('hex')),
    )
  })

  test('a transaction that throws emits nothing, and a rolled-back savepoint drops its facts', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = await createTable(db.url)
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into ${tx(table)} (id) values (${'1'})`
        await facts.emit(fromPostgres(tx), order('1'))
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    const kept = await sql.begin(async (tx) => {
      const before = await facts.emit(fromPostgres(tx), order('before'))
      await tx
        .savepoint(async (inner) => {
          await facts.emit(fromPostgres(inner), order('inside'))
          throw new Error('undo')
        })
        .catch(() => {})
      return before
    })
    expect(await idsIn(db.url, table)).toEqual([])
    expect((await messages(source)).map((message) => message.content.toString())).toEqual([
      expectedContent(kept).toString(),
    ])
  })

  test('the root sql is refused: its queries may run on any connection of its pool', () => {
    expect(() => fromPostgres(sql as never)).toThrow(
      expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }),
    )
  })
})
