import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import type { Fact } from '../src/index.js'
import { createTable, expectedContent, idsIn, uniqueSource, walDatabase } from './helpers.js'
import { fixture, repoRoot } from './runtime-helpers.js'

const { db, messages } = await walDatabase('lambda')

// Node as AWS Lambda's Node.js runtime runs it: a separate process imports the handler module (resolving
// @factlib/emit through its exports map to the built package) and invokes it, twice, warm.
const invoke = `
const { handler } = await import(process.argv[1])
const results = []
for (const event of JSON.parse(process.argv[2])) results.push(await handler(event))
process.stdout.write(JSON.stringify(results))
process.exit(0)`

describe('AWS Lambda-style handler on Node with node-postgres', () => {
  test('each invocation commits its row and its fact together', async () => {
    const source = uniqueSource()
    const table = await createTable(db.url)
    const events = [
      { orderId: 'l-1', total: 9 },
      { orderId: 'l-2', total: 12 },
    ]
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', invoke, fixture('lambda.mjs'), JSON.stringify(events)],
      {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: db.url, FACTLIB_SOURCE: source, FACTLIB_TABLE: table },
      },
    )
    const results = JSON.parse(stdout) as Array<{ statusCode: number; body: string }>
    expect(results.map((result) => result.statusCode)).toEqual([200, 200])
    const facts = results.map((result) => JSON.parse(result.body) as Fact)
    expect(facts.map((fact) => fact.data)).toEqual([{ total: 9 }, { total: 12 }])
    expect(await idsIn(db.url, table)).toEqual(['l-1', 'l-2'])
    expect((await messages(source)).map((message) => message.content.toString())).toEqual(
      facts.map((fact) => expectedContent(fact).toString()),
    )
  })
})
