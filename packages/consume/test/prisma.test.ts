import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { endPool, freshDatabase, withClient } from '../../../test/harness/index.js'
import { generatePrismaClient } from '../../../test/harness/prisma.js'
import { createInbox, migrateInbox } from '../src/index.js'
import { fromPrisma, type PrismaTransaction } from '../src/prisma.js'
import { afterWrite, type Driver, effectSql, fact, inboxContract, rowsOf } from './support/inbox.js'

/** The part of the generated PrismaClient this test uses. */
interface Client extends PrismaTransaction {
  shipment: { create(args: { data: { orderId: string } }): Promise<unknown> }
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
  $transaction<T>(work: (tx: Client) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

const db = await freshDatabase('consume_prisma')
const pool = new pg.Pool({ connectionString: db.url, max: 2 })
let prisma: Client
beforeAll(async () => {
  const PrismaClient = await generatePrismaClient<new (options: { adapter: PrismaPg }) => Client>(
    'packages/consume/test/fixtures/prisma/schema.prisma',
    'node_modules/.cache/factlib-consume-prisma',
  )
  await withClient(db.url, (client) =>
    client.query('create table prisma_shipments (order_id text primary key)'),
  )
  prisma = new PrismaClient({ adapter: new PrismaPg(pool) })
}, 120_000)
afterAll(() =>
  endPool(pool, async () => {
    await prisma?.$disconnect()
    if (!pool.ending) await pool.end()
  }),
)

const prismaDriver = (): Driver => ({
  handle: (inbox, each, effects, step) =>
    prisma.$transaction(async (tx) => {
      if (!(await inbox.claim(fromPrisma(tx), each))) return false
      await tx.$executeRawUnsafe(effectSql(effects), inbox.consumer, each.id)
      await afterWrite(step)
      return true
    }),
  transaction: (work) => prisma.$transaction((tx) => work(fromPrisma(tx))),
  misuse: () => fromPrisma(prisma),
  refusedWith: 'CONSUME_NOT_IN_TRANSACTION',
})

describe('Prisma 7 with @prisma/adapter-pg: fromPrisma inside an interactive $transaction', () => {
  inboxContract(db.url, prismaDriver)

  test("the handler writes through Prisma's models, once", async () => {
    await withClient(db.url, (client) => migrateInbox(client))
    const inbox = createInbox({ consumer: 'shipping' })
    const placed = fact('order.placed', 'p-42')
    const handle = () =>
      prisma.$transaction(async (tx) => {
        if (!(await inbox.claim(fromPrisma(tx), placed))) return false
        await tx.shipment.create({ data: { orderId: placed.aggregateId } })
        return true
      })
    expect([await handle(), await handle()]).toEqual([true, false])
    expect(await rowsOf(db.url, 'factlib_inbox')).toEqual([`shipping ${placed.id}`])
  })
})
