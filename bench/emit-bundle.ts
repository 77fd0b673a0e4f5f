// What a Worker pays to import @factlib/emit: the built package bundled with esbuild (minified, ESM,
// browser platform) and gzipped, for the core (createEmitter + emit) and for each subpath adapter on top.
//
//   npx tsx bench/emit-bundle.ts
import { execFile } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const COMMAND = 'npx tsx bench/emit-bundle.ts'

/** Budgets from the issue: the core at most 2 KB gzipped, each adapter at most 0.5 KB more. */
export const BUDGET = { coreGzipBytes: 2048, adapterGzipBytes: 512 }

const CORE = `import { createEmitter } from '@factlib/emit'
const facts = createEmitter({ source: 'orders' })
export const emit = (tx, fact) => facts.emit(tx, fact)
`

/** Each adapter as an app uses it, on top of the core entry. */
const ADAPTERS: Record<string, string> = {
  neon: `import { emitQuery } from '@factlib/emit/neon'
export const viaNeon = (sql, fact) => emitQuery(sql, facts.prepare(fact))`,
  postgres: `import { fromPostgres } from '@factlib/emit/postgres'
export const viaPostgres = (tx, fact) => facts.emit(fromPostgres(tx), fact)`,
  drizzle: `import { fromDrizzle } from '@factlib/emit/drizzle'
export const viaDrizzle = (tx, fact) => facts.emit(fromDrizzle(tx), fact)`,
  kysely: `import { fromKysely } from '@factlib/emit/kysely'
export const viaKysely = (tx, fact) => facts.emit(fromKysely(tx), fact)`,
  prisma: `import { fromPrisma } from '@factlib/emit/prisma'
export const viaPrisma = (tx, fact) => facts.emit(fromPrisma(tx), fact)`,
  // @opentelemetry/api is the app's own dependency: only factlib's hook is counted.
  otel: `import { otelTraceContext } from '@factlib/emit/otel'
export const traced = createEmitter({ source: 'orders', traceContext: otelTraceContext })`,
}

export interface BundleSize {
  minifiedBytes: number
  gzipBytes: number
  brotliBytes: number
}

export interface BundleResults {
  command: string
  esbuild: string
  core: BundleSize & { withinBudget: boolean }
  adapters: Record<string, BundleSize & { gzipDeltaBytes: number; withinBudget: boolean }>
  budget: typeof BUDGET
}

async function size(contents: string): Promise<BundleSize> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['@opentelemetry/api'],
    write: false,
    logLevel: 'silent',
    absWorkingDir: root,
  })
  const code = result.outputFiles[0]!.contents
  return {
    minifiedBytes: code.length,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    brotliBytes: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  }
}

/** Build packages/emit, then measure the core and each adapter. */
export async function measure(): Promise<BundleResults> {
  await promisify(execFile)(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/emit'],
    {
      cwd: root,
    },
  )
  const core = await size(CORE)
  const adapters: BundleResults['adapters'] = {}
  for (const [name, code] of Object.entries(ADAPTERS)) {
    const total = await size(`${CORE}\n${code}`)
    const gzipDeltaBytes = total.gzipBytes - core.gzipBytes
    adapters[name] = { ...total, gzipDeltaBytes, withinBudget: gzipDeltaBytes <= BUDGET.adapterGzipBytes }
  }
  const { version } = await import('esbuild')
  return {
    command: COMMAND,
    esbuild: version,
    core: { ...core, withinBudget: core.gzipBytes <= BUDGET.coreGzipBytes },
    adapters,
    budget: BUDGET,
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = await measure()
  const row = (name: string, s: BundleSize, extra = '') =>
    `${name.padEnd(10)} ${String(s.minifiedBytes).padStart(6)} ${String(s.gzipBytes).padStart(6)} ${String(s.brotliBytes).padStart(7)}  ${extra}`
  console.log(`@factlib/emit bundle size (esbuild ${results.esbuild}, minified, ESM, browser)\n`)
  console.log(
    `${'import'.padEnd(10)} ${'min B'.padStart(6)} ${'gzip B'.padStart(6)} ${'brotli B'.padStart(7)}`,
  )
  console.log(
    row(
      'core',
      results.core,
      `budget ${BUDGET.coreGzipBytes} gzip: ${results.core.withinBudget ? 'ok' : 'OVER'}`,
    ),
  )
  for (const [name, s] of Object.entries(results.adapters))
    console.log(
      row(
        `+${name}`,
        s,
        `+${s.gzipDeltaBytes} gzip over core (budget ${BUDGET.adapterGzipBytes}): ${s.withinBudget ? 'ok' : 'OVER'}`,
      ),
    )
  console.log(`\nreproduce: ${COMMAND}`)
}
