import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { PrismaPg } from '@prisma/adapter-pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { withClient } from '../../../test/harness/index.js'
import { createEmitter } from '../src/index.js'
import { fromPrisma, type PrismaTransaction } from '../src/prisma.js'
import { expectedContent, idsIn, order, uniqueSource, walDatabase } from './helpers.js'

const root = resolve(fileURLToPath(import.meta.url), '../../../..')

/** The part of the generated PrismaClient this test uses. */
interface Client extends PrismaTransaction {
  order: { create(args: { data: { id: string } }): Promise<unknown> }
  $transaction<T>(work: (tx: Client) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

/**
 * Generate the client with the real `prisma generate` (it uses Prisma's bundled Wasm, not a download). The
 * CLI still insists on locating a schema-engine binary, which is downloaded from outside the npm registry
 * and used only by migrate and db commands: it is pointed at a stub that fails if it is ever run.
 */
async function generateClient(): Promise<new (options: { adapter: PrismaPg }) => Client> {
  const stubDir = await mkdtemp(join(tmpdir(), 'factlib-prisma-'))
  const stub = join(stubDir, 'schema-engine')
  await writeFile(
    stub,
    '#!/bin/sh\necho "factlib tests: no schema engine (tables are made in SQL)" >&2\nexit 1\n',
  )
  await chmod(stub, 0o755)
  try {
    await promisify(execFile)(
      process.execPath,
      [
        join(root, 'node_modules/prisma/build/index.js'),
        'generate',
        '--schema',
        'packages/emit/test/fixtures/prisma/schema.prisma',
      ],
      {
        cwd: root,
        env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      },
    )
  } finally {
    await rm(stubDir, { recursive: true, force: true })
  }
  const generated = pathToFileURL(join(root, 'node_modules/.cache/factlib-prisma/client.ts')).href
  return ((await import(/* @vite-ignore */ generated)) as { PrismaClient: never }).PrismaClient
}

const { db, messages } = await walDatabase('prisma')
let prisma: Client
beforeAll(async () => {
  const PrismaClient = await generateClient()
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
