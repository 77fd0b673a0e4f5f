import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createEmitter } from '@factlib/emit'
import { build } from 'esbuild'
import { beforeAll, describe, expect, test, vi } from 'vitest'
import { relayEnv, repoRoot, tempDir } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  withClient,
} from '../../../test/harness/index.js'
import { readTopic } from '../../../test/harness/kafka-reader.js'
import type { DrainSummary, LambdaContext } from '../src/lambda.js'
import { METRICS } from '../src/observability/metric-names.js'
import { confirmedFlush } from './support/slot.js'

const db = await freshDatabase('lambda')
type Handler = (event: unknown, context: LambdaContext) => Promise<DrainSummary>
let handler: Handler
// At the top level: a folder made inside a hook would outlive the file (its clean-up hook is never registered).
const bundle = join(await tempDir('factlib-lambda-'), 'relay.mjs')
let initMs: number

beforeAll(async () => {
  // `@factlib/relay/lambda` bundled for upload as the Lambda example's build does (esbuild, ESM, node22),
  // then loaded as Lambda's Node.js runtime loads a handler module.
  await build({
    stdin: {
      contents: "export { handler } from '@factlib/relay/lambda'",
      resolveDir: join(repoRoot, 'packages/relay'),
    },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile: bundle,
    logLevel: 'warning',
    // The Kafka client reads its CRC32C WebAssembly from a file next to its own module; the bundled variant
    // carries it inline.
    alias: { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' },
    // The example's banner gives CommonJS dependencies a `require`; under its own name, since the bundle
    // imports `createRequire` itself.
    banner: {
      js: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);",
    },
  })
  const started = performance.now()
  handler = (await import(bundle)).handler as Handler
  initMs = performance.now() - started
})

/** `count` facts of about 300 bytes, in transactions of 100. */
function emitFacts(url: string, source: string, count: number): Promise<string[]> {
  return withClient(url, async (client) => {
    const facts = createEmitter({ source })
    const emitted: string[] = []
    for (let transaction = 0; transaction < count / 100; transaction++) {
      await client.query('begin')
      const batch = await facts.emit(
        client,
        Array.from({ length: 100 }, (_, index) => ({
          aggregateType: 'x',
          aggregateId: `a${index % 8}`,
          type: 't',
          data: { transaction, index, note: 'x'.repeat(150) },
        })),
      )
      await client.query('commit')
      emitted.push(...batch.map((fact) => fact.id))
    }
    return emitted
  })
}

/** Lambda's context with `ms` left, as the runtime passes it. */
const context = (ms: number): LambdaContext => {
  const deadline = Date.now() + ms
  return { getRemainingTimeInMillis: () => deadline - Date.now(), awsRequestId: uniqueName('req') }
}

/** Invoke the handler, keeping what it wrote to stdout (EMF) and stderr (logs). */
async function invoke(ms = 60_000): Promise<{ summary: DrainSummary; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk)
    return true
  })
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk)
    return true
  })
  try {
    return { summary: await handler({}, context(ms)), stdout, stderr }
  } finally {
    out.mockRestore()
    err.mockRestore()
  }
}

describe.skipIf(kafkaUnavailable())('the Lambda entry point @factlib/relay/lambda', () => {
  test('each invocation drains the backlog with the relay configuration, EMF metrics and JSON logs', async () => {
    const source = uniqueName('lambda')
    const env = relayEnv(db.url, { FACTLIB_SOURCES: source })
    Object.assign(process.env, env)

    const first = await invoke()
    expect(first.summary).toMatchObject({ outcome: 'drained', facts: 0, exitCode: 0 })
    const count = 20_000
    const ids = await emitFacts(db.url, source, count)

    const started = performance.now()
    const { summary, stdout, stderr } = await invoke()
    const invocationMs = performance.now() - started
    expect(summary).toMatchObject({ outcome: 'drained', reason: 'target', facts: count })
    expect(await confirmedFlush(db.url, env.FACTLIB_SLOT)).toBe(summary.endLsn)
    const relayed = await readTopic(kafkaBrokers(), `${source}.x`)
    expect(new Set(relayed.map((record) => record.headers.ce_id))).toEqual(new Set(ids))

    // EMF on stdout under the relay's metric names; JSON logs on stderr; no HTTP port.
    const emf = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(emf.length).toBeGreaterThan(0)
    expect(emf.reduce((sum, line) => sum + Number(line[METRICS.factsRelayed.emf] ?? 0), 0)).toBe(count)
    expect(emf[0]).toHaveProperty('_aws')
    const logs = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(logs.find((line) => line.msg === 'relay started')).toMatchObject({ httpPort: 0, mode: 'drain' })
    expect(logs.find((line) => line.msg === 'drain finished')).toMatchObject({ facts: count })

    // As Lambda's Node.js runtime does it: a fresh process imports the bundle (the init phase), then invokes.
    const more = await emitFacts(db.url, source, count)
    const cold = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const started = performance.now()
         const { handler } = await import(${JSON.stringify(bundle)})
         const initMs = performance.now() - started
         const deadline = Date.now() + 60_000
         const summary = await handler({}, { getRemainingTimeInMillis: () => deadline - Date.now() })
         process.stdout.write('RESULT ' + JSON.stringify({ initMs, summary }) + '\\n')`,
      ],
      { env: { PATH: process.env.PATH ?? '', ...env } },
    )
    const result = JSON.parse(cold.stdout.split('RESULT ')[1] ?? '') as {
      initMs: number
      summary: DrainSummary
    }
    expect(result.summary).toMatchObject({ outcome: 'drained', facts: count })
    const all = await readTopic(kafkaBrokers(), `${source}.x`)
    expect(new Set(all.map((record) => record.headers.ce_id))).toEqual(new Set([...ids, ...more]))
    console.info(
      `lambda bundle: init ${Math.round(result.initMs)} ms in a fresh process; ${count} facts in ` +
        `${result.summary.seconds} s of draining = ${Math.round(count / result.summary.seconds)} facts/s ` +
        `(in the test's process: ${Math.round(count / summary.seconds)} facts/s, invocation ` +
        `${Math.round(invocationMs)} ms, import ${Math.round(initMs)} ms through vitest)`,
    )
  })

  test('an invocation with too little time left fails before it connects', async () => {
    Object.assign(process.env, relayEnv(db.url))
    await expect(handler({}, context(2_000))).rejects.toThrow(/too little for a drain run/)
  })
})
