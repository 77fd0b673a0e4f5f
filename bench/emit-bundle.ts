// What a Worker pays to import @factlib/emit: the core (createEmitter + emit) and each adapter on top,
// bundled by esbuild (minified, ESM, browser platform), then gzip -9 and brotli -11.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { build, version } from 'esbuild'
import { root } from './child.js'

/** The budgets: the core at most 2 KB gzipped, each adapter at most 0.5 KB more. */
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

async function size(contents: string) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['@opentelemetry/api'],
    write: false,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.contents
  const gzipBytes = gzipSync(code, { level: 9 }).length
  const brotliBytes = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
  return { minifiedBytes: code.length, gzipBytes, brotliBytes }
}

/** The package as run.ts built it. */
export async function measure() {
  const core = await size(CORE)
  const adapters: Record<string, Awaited<ReturnType<typeof size>> & { gzipDeltaBytes: number }> = {}
  for (const [name, code] of Object.entries(ADAPTERS)) {
    const total = await size(`${CORE}\n${code}`)
    adapters[name] = { ...total, gzipDeltaBytes: total.gzipBytes - core.gzipBytes }
  }
  return { esbuild: version, core, adapters }
}
