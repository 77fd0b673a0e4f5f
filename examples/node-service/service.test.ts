import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { decodeEnvelope } from '@factlib/emit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshDatabase, uniqueName, withClient } from '../../test/harness/index.js'
import { createWalReader, type WalReader } from '../../test/harness/wal.js'
import { exampleDir } from '../support.js'
import { type App, createApp } from './src/app.js'

const db = await freshDatabase('example_service')
const source = uniqueName('service')
let wal: WalReader
let app: App
let base: string

beforeAll(async () => {
  await withClient(db.url, async (client) =>
    client.query(await readFile(join(exampleDir, 'schema.sql'), 'utf8')),
  )
  wal = await createWalReader(db.url)
  app = createApp(db.url, source)
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await app?.close()
  await wal?.drop()
})

const post = async (body: unknown) => {
  const response = await fetch(`${base}/orders`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as { factId?: string } }
}
const factsOf = async () =>
  (await wal.messages())
    .filter((message) => message.prefix === source)
    .map((message) => decodeEnvelope(message.content))

describe('the Node service example (Kysely)', () => {
  test('concurrent orders: each row commits with exactly its fact', async () => {
    const ids = Array.from({ length: 12 }, (_, n) => `n-${n}`)
    const responses = await Promise.all(ids.map((id, n) => post({ id, total: n + 0.5 })))
    expect(responses.map((response) => response.status)).toEqual(ids.map(() => 201))
    const facts = await factsOf()
    expect(facts.map(({ header }) => header.aggregateId).sort()).toEqual([...ids].sort())
    expect(new Set(facts.map(({ header }) => header.id))).toEqual(
      new Set(responses.map((response) => response.body.factId)),
    )
    const fact = facts.find(({ header }) => header.aggregateId === 'n-3')!
    expect(fact.header).toMatchObject({
      type: 'order.placed',
      aggregateType: 'order',
      contentType: 'application/json',
    })
    expect(JSON.parse(new TextDecoder().decode(fact.payload))).toEqual({ id: 'n-3', total: 3.5 })
    const count = await withClient(
      db.url,
      async (client) => (await client.query('select count(*)::int as n from orders')).rows[0].n,
    )
    expect(count).toBe(ids.length)
  })

  test('a refused order emits nothing', async () => {
    const before = (await factsOf()).length
    expect((await post({ id: 'n-1', total: 1 })).status).toBe(409)
    expect((await post('{"id":')).status).toBe(400)
    expect((await factsOf()).length).toBe(before)
  })
})
