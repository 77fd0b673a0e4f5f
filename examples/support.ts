import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'

/** The examples folder. */
export const exampleDir = fileURLToPath(new URL('.', import.meta.url))

/** A temporary folder, removed after the test file. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'factlib-example-'))
  await chmod(dir, 0o755)
  afterAll(() => rm(dir, { recursive: true, force: true }))
  return dir
}
