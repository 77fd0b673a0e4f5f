import { access } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { expect } from 'vitest'
import type { Fact } from '../src/index.js'
import { createTable, expectedContent, idsIn, uniqueSource } from './helpers.js'

const here = dirname(fileURLToPath(import.meta.url))
export const fixture = (name: string) => join(here, 'fixtures', name)
export const repoRoot = resolve(here, '../../..')

/**
 * Bundle a fixture against the built package (`@factlib/emit` resolves to `dist/` through the workspace link,
 * as it would from npm): what runs is what ships.
 */
export async function bundle(
  entry: string,
  format: 'esm' | 'iife',
  conditions: string[] = [],
): Promise<string> {
  await access(join(repoRoot, 'packages/emit/dist/index.js')).catch(() => {
    throw new Error('packages/emit is not built: run `npx tsc -b packages/emit` (npm test builds first)')
  })
  const result = await build({
    entryPoints: [fixture(entry)],
    bundle: true,
    format,
    platform: 'browser',
    conditions,
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

/** The environment the fixture app needs, with a fresh source and table in the database at `url`. */
export async function appEnv(url: string, neon: { wsProxy: string; fetchEndpoint: string }) {
  return {
    DATABASE_URL: url,
    NEON_WS_PROXY: neon.wsProxy,
    NEON_FETCH_ENDPOINT: neon.fetchEndpoint,
    SOURCE: uniqueSource(),
    TABLE: await createTable(url),
  }
}

type JsonFact = Omit<Fact, 'payload'> & { payload?: number[] }

/** Check that the facts the app returned are in the table's transaction and in the WAL, byte-exact. */
export async function expectEmitted(
  url: string,
  env: { SOURCE: string; TABLE: string },
  messages: (source: string) => Promise<Array<{ content: Buffer }>>,
  returned: Record<string, unknown[]>,
) {
  const facts = (Object.values(returned).flat() as JsonFact[]).map((fact) => ({
    ...fact,
    ...(fact.payload ? { payload: Uint8Array.from(fact.payload) } : {}),
  })) as Fact[]
  expect(facts.length).toBe(Object.keys(returned).length * 2)
  expect(await idsIn(url, env.TABLE)).toEqual(
    Object.keys(returned)
      .map((path) => new URL(path, 'http://x').searchParams.get('id'))
      .sort(),
  )
  expect((await messages(env.SOURCE)).map((message) => message.content.toString('hex'))).toEqual(
    facts.map((fact) => expectedContent(fact).toString('hex')),
  )
}
