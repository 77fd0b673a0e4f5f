import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshDatabase, neonLocal } from '../../../test/harness/index.js'
import type { Fact } from '../src/index.js'
import { fact, inboxTables, rowsOf } from './support/inbox.js'

const db = await freshDatabase('consume_workerd')
let worker: Miniflare
let tables: Awaited<ReturnType<typeof inboxTables>>

beforeAll(async () => {
  tables = await inboxTables(db.url)
  const local = neonLocal()
  // Bundled against dist/ through the workspace link, as from npm; no nodejs_compat: Web-standard APIs only.
  const { outputFiles } = await build({
    entryPoints: [fileURLToPath(new URL('fixtures/worker.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  worker = new Miniflare({
    modules: true,
    script: outputFiles[0]!.text,
    compatibilityDate: '2026-04-01',
    bindings: {
      DATABASE_URL: db.url,
      NEON_WS_PROXY: local.wsProxy,
      NEON_FETCH_ENDPOINT: local.fetchEndpoint,
      INBOX: tables.table,
      EFFECTS: tables.effects,
    },
  })
  await worker.ready
})
afterAll(() => worker?.dispose())

/** The record of `fact` as a Lambda Kafka event carries it: base64 key and value, headers of byte arrays. */
const lambdaRecord = (each: Fact, headers: Record<string, string> = {}) => ({
  topic: each.topic,
  partition: 0,
  offset: 12,
  key: btoa(each.aggregateId),
  value: btoa(JSON.stringify(each.data)),
  headers: Object.entries({
    ce_specversion: '1.0',
    ce_id: each.id,
    ce_source: each.source,
    ce_type: each.type,
    ce_aggregatetype: each.aggregateType,
    ce_aggregateid: each.aggregateId,
    'content-type': each.contentType,
    ...headers,
  }).map(([name, value]) => ({ [name]: [...new TextEncoder().encode(value)] })),
})

const post = async (path: string, body: unknown) => {
  const response = await worker.dispatchFetch(`http://worker${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe('Cloudflare workerd (miniflare)', () => {
  test.each(['/ws', '/http'])('decodes, routes and handles a fact once through %s', async (path) => {
    const placed = fact()
    const first = await post(path, lambdaRecord(placed, { tenant: 'acme' }))
    expect(first).toMatchObject({
      status: 200,
      body: {
        handled: true,
        runtime: 'Cloudflare-Workers',
        fact: {
          id: placed.id,
          type: 'order.placed',
          data: { total: 9 },
          metadata: { tenant: 'acme' },
          offset: '12',
        },
      },
    })
    expect((await post(path, lambdaRecord(placed))).body.handled).toBe(false)
    const rows = await rowsOf(db.url, tables.effects)
    expect(rows.filter((row) => row.includes(placed.id))).toEqual([`worker ${placed.id} 9`])
    expect((await rowsOf(db.url, tables.table)).filter((row) => row.includes(placed.id))).toEqual([
      `worker ${placed.id}`,
    ])
  })

  test('an unknown type fails with UNKNOWN_FACT_TYPE and leaves the fact unhandled; a record that is no fact, NOT_A_FACT', async () => {
    const shipped = fact('order.shipped')
    expect(await post('/ws', lambdaRecord(shipped))).toMatchObject({
      status: 422,
      body: { code: 'UNKNOWN_FACT_TYPE' },
    })
    expect((await rowsOf(db.url, tables.table)).filter((row) => row.includes(shipped.id))).toEqual([])
    expect(
      await post('/ws', { topic: 'orders', partition: 0, offset: 1, value: btoa('{}'), headers: [] }),
    ).toMatchObject({
      status: 422,
      body: { code: 'NOT_A_FACT' },
    })
  })
})
