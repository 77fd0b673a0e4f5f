import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { publint } from 'publint'
import { describe, expect, test } from 'vitest'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const pkgDir = join(repoRoot, 'packages/consume')
const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string } | string>
  files: string[]
  sideEffects: boolean
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
/** The subpaths that are code (`./inbox.sql` is the migration file). */
const modules = Object.keys(manifest.exports).filter((subpath) => subpath !== './inbox.sql')

/** Bundle `export * from '<specifier>'` as a user's bundler would for any runtime (platform neutral). */
const bundle = (specifier: string, minify = false) =>
  build({
    stdin: { contents: `export * from '${specifier}'`, resolveDir: repoRoot },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    minify,
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: repoRoot,
  })

/** The files an import of `specifier` pulls into a bundle, relative to the repository. */
const inputsOf = async (specifier: string) =>
  Object.keys((await bundle(specifier)).metafile.inputs).filter((input) => input !== '<stdin>')

/** What importing `specifier` costs a bundle: minified with esbuild, then gzip -9, in bytes. */
const gzipSize = async (specifier: string) =>
  gzipSync((await bundle(specifier, true)).outputFiles[0]!.contents, { level: 9 }).length

// The budgets of issue 15: the core (decode, inbox, route) and each driver adapter, alone.
const BUDGETS: Record<string, number> = {
  '.': 2048,
  './postgres': 512,
  './drizzle': 512,
  './kysely': 512,
  './prisma': 512,
  './neon': 512,
}

describe('the published package', () => {
  test('publint --strict finds nothing', async () => {
    const { messages } = await publint({ pkgDir, strict: true })
    expect(messages).toEqual([])
  })

  test('has zero runtime dependencies, no side effects, and { types, import } for every module', () => {
    expect(manifest.dependencies).toBeUndefined()
    expect(manifest.peerDependencies).toBeUndefined()
    expect(manifest.sideEffects).toBe(false)
    expect(modules.sort()).toEqual(
      [
        '.',
        './drizzle',
        './kafkajs',
        './kysely',
        './lambda',
        './neon',
        './platformatic',
        './postgres',
        './prisma',
      ].sort(),
    )
    for (const subpath of modules)
      expect(Object.keys(manifest.exports[subpath]!)).toEqual(['types', 'import'])
    expect(manifest.exports['./inbox.sql']).toBe('./inbox.sql')
    expect(manifest.files).toContain('inbox.sql')
  })

  test.each(modules)('%s imports only files of the package, and no Node.js API', async (subpath) => {
    for (const input of await inputsOf(`@factlib/consume${subpath.slice(1)}`)) {
      expect(input).toMatch(/^packages\/consume\/dist\/[\w-]+\.js$/)
      const code = await readFile(join(repoRoot, input), 'utf8')
      expect(code, input).not.toMatch(/\bBuffer\b|\bprocess\b|from ['"]node:|require\(/)
    }
  })

  test.each(Object.entries(BUDGETS))(
    '%s is at most %i bytes minified and gzipped',
    async (subpath, budget) => {
      const size = await gzipSize(`@factlib/consume${subpath.slice(1)}`)
      console.log(`@factlib/consume${subpath.slice(1)}: ${size} B min+gzip (budget ${budget} B)`)
      expect(size).toBeLessThanOrEqual(budget)
    },
  )
})
