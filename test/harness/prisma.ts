import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Generate a Prisma client from `schema` (relative to the repository) with the real `prisma generate`, which
 * uses Prisma's bundled Wasm, not a download, and import its `PrismaClient` from `output` (the schema's
 * generator output, relative to the repository). The CLI still insists on locating a schema-engine binary,
 * which comes from outside the npm registry and serves only migrate and db commands: it is pointed at a
 * stub that fails if it is ever run.
 */
export async function generatePrismaClient<C>(schema: string, output: string): Promise<C> {
  const stubDir = await mkdtemp(join(tmpdir(), 'factlib-prisma-'))
  const stub = join(stubDir, 'schema-engine')
  await writeFile(
    stub,
    '#!/bin/sh\necho "factlib tests: no schema engine (tables are made in SQL)" >&2\nexit 1\n',
  )
  await chmod(stub, 0o755)
  try {
    await promisify(execFile)(
      process.execPath,
      [join(repoRoot, 'node_modules/prisma/build/index.js'), 'generate', '--schema', schema],
      {
        cwd: repoRoot,
        env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      },
    )
  } finally {
    await rm(stubDir, { recursive: true, force: true })
  }
  const generated = pathToFileURL(join(repoRoot, output, 'client.ts')).href
  return ((await import(/* @vite-ignore */ generated)) as { PrismaClient: C }).PrismaClient
}
