import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'
import { publint } from 'publint'
import { describe, expect, test } from 'vitest'
import { repoRoot } from './runtime-helpers.js'

const pkgDir = join(repoRoot, 'packages/emit')
const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string }>
  sideEffects: boolean
  dependencies?: Record<string, string>
}
const subpaths = Object.keys(manifest.exports)

/** The files an import of `specifier` pulls into a bundle, relative to the repository. */
async function inputsOf(specifier: string): Promise<string[]> {
  const { metafile } = await build({
    stdin: { contents: `export * from '${specifier}'`, resolveDir: repoRoot },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['@opentelemetry/api'],
    absWorkingDir: repoRoot,
  })
  return Object.keys(metafile.inputs).filter((input) => input !== '<stdin>')
}

describe('the published package', () => {
  test('publint --strict finds nothing', async () => {
    const { messages } = await publint({ pkgDir, strict: true })
    expect(messages).toEqual([])
  })

  test('has zero runtime dependencies, no side effects, and { types, import } for every subpath', () => {
    expect(manifest.dependencies).toBeUndefined()
    expect(manifest.sideEffects).toBe(false)
    expect(subpaths.sort()).toEqual(
      ['.', './drizzle', './envelope', './kysely', './neon', './otel', './postgres', './prisma'].sort(),
    )
    for (const subpath of subpaths)
      expect(Object.keys(manifest.exports[subpath]!)).toEqual(['types', 'import'])
  })

  test.each(subpaths)(
    '%s imports only the package itself (and otel only @opentelemetry/api)',
    async (subpath) => {
      const inputs = await inputsOf(`@factlib/emit${subpath.slice(1)}`)
      for (const input of inputs) expect(input).toMatch(/^packages\/emit\/dist\/[\w-]+\.js$/)
      if (subpath !== './otel') expect(inputs).not.toContain('packages/emit/dist/otel.js')
    },
  )

  test('the code the core bundles uses no Node.js API', async () => {
    for (const input of await inputsOf('@factlib/emit')) {
      const code = await readFile(join(repoRoot, input), 'utf8')
      expect(code, input).not.toMatch(/\bBuffer\b|\bprocess\b|from ['"]node:|require\(/)
    }
  })
})
