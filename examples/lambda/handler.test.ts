import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decodeEnvelope } from '@factlib/emit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { freshDatabase, uniqueName, withClient } from '../../test/harness/index.js'
import { createWalReader, type WalReader } from '../../test/harness/wal.js'
import { exampleDir, tempDir } from '../support.js'

const db = await freshDatabase('example_lambda')
const source = uniqueName('lambda')
let wal: WalReader
let handler: (event: {
  body?: string
  isBase64Encoded?: boolean
}) => Promise<{ statusCode: number; body: string }>

beforeAll(async () => {
  await withClient(db.url, async (client) =>
    client.query(await readFile(join(exampleDir, 'schema.sql'), 'utf8')),
  )
  wal = await createWalReader(db.url)
  // The bundle `npm run build` makes for upload, loaded as Lambda's Node.js runtime loads it.
  const out = join(await tempDir(), 'handler.mjs')
  await promisify(execFile)(
    'npm',
    ['run', 'build', '--silent', '--', `--outfile=${out}`, '--log-level=warning'],
    {
      cwd: join(exampleDir, 'lambda'),
    },
  )
  process.env.DATABASE_URL = db.url
  process.env.FACTLIB_SOURCE = source
  handler = (await import(out)).handler
})
afterAll(() => wal?.drop())

const post = (body: unknown, base64 = false) => {
  const text = JSON.stringify(body)
  return handler(
    base64 ? { body: Buffer.from(text).toString('base64'), isBase64Encoded: true } : { body: text },
  )
}

describe('the Lambda example', () => {
  test('writes the order and emits order.placed in one transaction', async () => {
    const first = await post({ id: 'o-1', total: 9.5 })
    const second = await post({ id: 'o-2', total: 12 }, true)
    expect([first.statusCode, second.statusCode]).toEqual([201, 201])
    const rows = await withClient(
      db.url,
      async (client) => (await client.query('select id, total from orders order by id')).rows,
    )
    expect(rows).toEqual([
      { id: 'o-1', total: '9.50' },
      { id: 'o-2', total: '12.00' },
    ])
    const messages = (await wal.messages()).filter((message) => message.prefix === source)
    const envelopes = messages.map((message) => decodeEnvelope(message.content))
    expect(
      envelopes.map(({ header }) => [header.id, header.type, header.aggregateType, header.aggregateId]),
    ).toEqual([
      [JSON.parse(first.body).factId, 'order.placed', 'order', 'o-1'],
      [JSON.parse(second.body).factId, 'order.placed', 'order', 'o-2'],
    ])
    expect(JSON.parse(new TextDecoder().decode(envelopes[0]!.payload))).toEqual({ id: 'o-1', total: 9.5 })
  })

  test('a refused order emits nothing', async () => {
    const before = (await wal.messages()).length
    expect((await post({ id: 'o-1', total: 1 })).statusCode).toBe(409)
    expect((await handler({ body: 'not json' })).statusCode).toBe(400)
    expect((await post({ id: 7 })).statusCode).toBe(400)
    expect((await wal.messages()).length).toBe(before)
  })
})
