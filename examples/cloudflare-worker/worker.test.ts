import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeEnvelope } from '@factlib/emit'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshDatabase, neonLocal, uniqueName, withClient } from '../../test/harness/index.js'
import { createWalReader, type WalReader } from '../../test/harness/wal.js'
import { exampleDir } from '../support.js'

const here = join(exampleDir, 'cloudflare-worker')
const db = await freshDatabase('example_worker')
const source = uniqueName('worker')
let wal: WalReader
let worker: Miniflare

beforeAll(async () => {
  await withClient(db.url, async (client) =>
    client.query(await readFile(join(exampleDir, 'schema.sql'), 'utf8')),
  )
  wal = await createWalReader(db.url)
  // Bundled as wrangler bundles a Worker, and run in workerd (no nodejs_compat) with wrangler.toml's date.
  const bundle = await build({
    entryPoints: [join(here, 'src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  const wrangler = await readFile(join(here, 'wrangler.toml'), 'utf8')
  worker = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: /compatibility_date = "([\d-]+)"/.exec(wrangler)![1]!,
    bindings: {
      DATABASE_URL: db.url,
      FACTLIB_SOURCE: source,
      NEON_WS_PROXY: neonLocal().wsProxy,
      NEON_FETCH_ENDPOINT: neonLocal().fetchEndpoint,
    },
  })
  await worker.ready
})
afterAll(async () => {
  await worker?.dispose()
  await wal?.drop()
})

const post = async (path: string, body: unknown) => {
  const response = await worker.dispatchFetch(`http://worker${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as { factId?: string; error?: string } }
}

describe('the Cloudflare Worker example, in workerd', () => {
  test('writes the order and emits order.placed in one transaction, over WebSocket and over HTTP', async () => {
    const ws = await post('/orders', { id: 'w-1', total: 3.5 })
    const http = await post('/orders/http', { id: 'h-1', total: 4 })
    expect([ws.status, http.status], JSON.stringify([ws.body, http.body])).toEqual([201, 201])
    const rows = await withClient(
      db.url,
      async (client) => (await client.query('select id from orders order by id')).rows,
    )
    expect(rows).toEqual([{ id: 'h-1' }, { id: 'w-1' }])
    const headers = (await wal.messages())
      .filter((message) => message.prefix === source)
      .map((message) => decodeEnvelope(message.content).header)
    expect(headers.map((header) => [header.id, header.aggregateId, header.type])).toEqual([
      [ws.body.factId, 'w-1', 'order.placed'],
      [http.body.factId, 'h-1', 'order.placed'],
    ])
  })

  test('a duplicate order emits nothing, on either path', async () => {
    await post('/orders', { id: 'd-1', total: 1 })
    const before = (await wal.messages()).length
    expect((await post('/orders', { id: 'd-1', total: 2 })).status).toBe(409)
    expect((await post('/orders/http', { id: 'd-1', total: 2 })).status).toBe(409)
    expect((await post('/orders', { id: 'd-2' })).status).toBe(400)
    expect((await wal.messages()).length).toBe(before)
  })
})
