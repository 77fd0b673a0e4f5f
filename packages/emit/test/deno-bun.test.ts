import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { neonLocal } from '../../../test/harness/index.js'
import { walDatabase } from './helpers.js'
import { appEnv, bundle, expectEmitted, repoRoot } from './runtime-helpers.js'

const run = promisify(execFile)
const { db, messages } = await walDatabase('denobun')

/**
 * The first candidate that runs. The binaries come from the npm packages `deno` and `bun` (devDependencies)
 * through their platform packages; nothing is downloaded from anywhere else. Bun's postinstall moves its
 * binary over the `bun` placeholder; where install scripts were skipped it is still in the platform package.
 */
async function firstWorking(candidates: string[]): Promise<string> {
  for (const candidate of candidates) {
    const works = await run(candidate, ['--version']).then(
      () => true,
      () => false,
    )
    if (works) return candidate
  }
  throw new Error(`none of these runs: ${candidates.join(', ')}`)
}

const runtimes = {
  Deno: {
    binary: () => firstWorking([join(repoRoot, 'node_modules/.bin/deno')]),
    args: (script: string) => ['run', '--no-config', '--no-lock', '--allow-net', '--allow-env', script],
    userAgent: /^Deno\/2\./,
  },
  Bun: {
    binary: () =>
      firstWorking(
        ['.bin/bun', '@oven/bun-linux-x64/bin/bun', '@oven/bun-linux-x64-baseline/bin/bun'].map((path) =>
          join(repoRoot, 'node_modules', path),
        ),
      ),
    args: (script: string) => ['run', script],
    userAgent: /^Bun\/1\./,
  },
}

let dir: string
let script: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'factlib-runtime-'))
  script = join(dir, 'script.mjs')
  await writeFile(script, await bundle('script.ts', 'esm'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe.each(Object.keys(runtimes) as Array<keyof typeof runtimes>)('%s', (name) => {
  test('the bundled app emits through Neon WebSocket and neon() HTTP, byte-exact, with the writes', async () => {
    const runtime = runtimes[name]
    const env = await appEnv(db.url, neonLocal())
    const { stdout } = await run(await runtime.binary(), runtime.args(script), {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env },
      timeout: 60_000,
    })
    const { userAgent, results } = JSON.parse(stdout) as {
      userAgent: string
      results: Record<string, unknown[]>
    }
    expect(userAgent).toMatch(runtime.userAgent)
    await expectEmitted(db.url, env, messages, results)
  })
})
