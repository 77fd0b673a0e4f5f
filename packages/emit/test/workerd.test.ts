import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { neonLocal } from '../../../test/harness/index.js'
import { walDatabase } from './helpers.js'
import { appEnv, bundle, expectEmitted } from './runtime-helpers.js'

const { db, messages } = await walDatabase('workerd')
let worker: Miniflare
let env: Awaited<ReturnType<typeof appEnv>>

beforeAll(async () => {
  env = await appEnv(db.url, neonLocal())
  // No nodejs_compat: the emitter needs only Web-standard APIs.
  worker = new Miniflare({
    modules: true,
    script: await bundle('worker.ts', 'esm', ['workerd', 'worker']),
    compatibilityDate: '2026-04-01',
    bindings: env,
  })
  await worker.ready
})
afterAll(() => worker?.dispose())

describe('Cloudflare workerd (miniflare)', () => {
  test('the bundled Worker emits through Neon WebSocket and neon() HTTP, byte-exact, with the writes', async () => {
    const returned: Record<string, unknown[]> = {}
    for (const path of ['/ws?id=ws', '/http?id=http']) {
      const response = await worker.dispatchFetch(`http://worker${path}`)
      expect(response.status, await response.clone().text()).toBe(200)
      returned[path] = (await response.json()) as unknown[]
    }
    // workerd reports itself as Cloudflare-Workers: proof the code ran there and not in Node.
    expect((returned['/ws?id=ws'] as Array<{ data: { runtime: string } }>)[0]!.data.runtime).toBe(
      'Cloudflare-Workers',
    )
    await expectEmitted(db.url, env, messages, returned)
  })
})
