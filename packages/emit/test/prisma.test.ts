import { PrismaPg } from '@prisma/adapter-pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { withClient } from '../../../test/harness/index.js'
import { generatePrismaClient } from '../../../test/harness/prisma.js'
import { createEmitter } from '../src/index.js'
import { fromPrisma, type PrismaTransaction } from '../src/prisma.js'
import { expectedContent, idsIn, order, uniqueSource, walDatabase } from './helpers.js'

/** The part of the generated PrismaClient this test uses. */
interface Client extends PrismaTransaction {
  order: { create(args: { data: { id: string } }): Promise<unknown> }
  $transaction<T>(work: (tx: Client) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

const { db, messages } = await walDatabase('prisma')
let prisma: Client
beforeAll(async () => {
  const PrismaClient = await generatePrismaClient<new (options: { adapter: PrismaPg }) => Client>(
    'packages/emit/test/fixtures/prisma/schema.prisma',
    'node_modules/.cache/factlib-prisma',
  )
  await withClient(db.url, (client) => client.query('create table prisma_orders (id text primary key)'))
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) })
}, 120_000)
afterAll(() => prisma?.$disconnect())

describe('Prisma 7 with @prisma/adapter-pg', () => {
  test('an interactive $transaction commits the facts with the writes', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const emitted = await prisma.$transaction(async (tx) => {
      await tx.order.create({ data: { id: 'p-42' } })
      return facts.emit(fromPrisma(tx), [
        order('p-42'),
        {
          aggregateType: 'blob',
          aggregateId: 'p-42',
          type: 'blob.stored',
          payload: new Uint8Array([0xfe, 0]),
        },
      ])
    })
    expect(await idsIn(db.url, 'prisma_orders')).toContain('p-42')
    expect((await messages(source)).map((message) => message.content.toString('hex'))).toEqual(
      emitted.map((fact) => expectedContent(fact).toString('hex')),
    )
  })

  test('a $transaction that throws emits nothing', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.order.create({ data: { id: 'p-rolled-back' } })
        await facts.emit(fromPrisma(tx), order('p-rolled-back'))
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    const marker = await prisma.$transaction((tx) => facts.emit(fromPrisma(tx), order('marker')))
    expect(await idsIn(db.url, 'prisma_orders')).not.toContain('p-rolled-back')
    expect((await messages(source)).map((message) => message.content.toString())).toEqual([
      expectedContent(marker).toString(),
    ])
  })

  test('the PrismaClient itself is refused: outside $transaction each query is its own transaction', () => {
    expect(() => fromPrisma(prisma)).toThrow(expect.objectContaining({ code: 'EMIT_NOT_IN_TRANSACTION' }))
  })
})
