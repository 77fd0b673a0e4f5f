import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshDatabase, withClient } from '../../../test/harness/index.js'
import { createInbox, migrateInbox } from '../src/index.js'
import { fromPrisma, type PrismaTransaction } from '../src/prisma.js'
import { afterWrite, type Driver, effectSql, endPool, fact, inboxContract, rowsOf } from './support/inbox.js'

const root = resolve(fileURLToPath(import.meta.url), '../../../..')

/** The part of the generated PrismaClient this test uses. */
interface Client extends PrismaTransaction {
  shipment: { create(args: { data: { orderId: string } }): Promise<unknown> }
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
  $transaction<T>(work: (tx: Client) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

/**
 * Generate the client with the real `prisma generate` (Prisma's bundled Wasm, no download), as
 * packages/emit/test/prisma.test.ts does: the CLI's schema-engine binary, used only by migrate and db
 * commands, is a stub that fails if it is ever run.
 */
async function generateClient(): Promise<new (options: { adapter: PrismaPg }) => Client> {
  const stubDir = await mkdtemp(join(tmpdir(), 'factlib-consume-prisma-'))
  const stub = join(stubDir, 'schema-engine')
  await writeFile(stub, '#!/bin/sh\necho "factlib tests: no schema engine" >&2\nexit 1\n')
  await chmod(stub, 0o755)
  try {
    await promisify(execFile)(
      process.execPath,
      [
        join(root, 'node_modules/prisma/build/index.js'),
        'generate',
        '--schema',
        'packages/consume/test/fixtures/prisma/schema.prisma',
      ],
      {
        cwd: root,
        env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      },
    )
  } finally {
    await rm(stubDir, { recursive: true, force: true })
  }
  const generated = pathToFileURL(join(root, 'node_modules/.cache/factlib-consume-prisma/client.ts')).href
  return ((await import(/* @vite-ignore */ generated)) as { PrismaClient: never }).PrismaClient
}

const db = await freshDatabase('consume_prisma')
const pool = new pg.Pool({ connectionString: db.url, max: 2 })
let prisma: Client
beforeAll(async () => {
  const PrismaClient = await generateClient()
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
