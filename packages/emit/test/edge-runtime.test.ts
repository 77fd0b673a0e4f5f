import { EdgeRuntime } from 'edge-runtime'
import { describe, expect, test } from 'vitest'
import { neonLocal } from '../../../test/harness/index.js'
import { walDatabase } from './helpers.js'
import { appEnv, bundle, expectEmitted } from './runtime-helpers.js'

const { db, messages } = await walDatabase('edge')

describe("Vercel's edge-runtime", () => {
  test('the bundled app emits through Neon WebSocket and neon() HTTP, byte-exact, with the writes', async () => {
    const env = await appEnv(db.url, neonLocal())
    const runtime = new EdgeRuntime({
      initialCode: await bundle('edge.ts', 'iife', ['edge-light', 'worker']),
      extend: (context) => Object.assign(context, { FACTLIB_ENV: env }),
    })
    const returned: Record<string, unknown[]> = {}
    for (const path of ['/ws?id=ws', '/http?id=http']) {
      const response = await runtime.dispatchFetch(`http://edge${path}`)
      expect(response.status, await response.clone().text()).toBe(200)
      returned[path] = (await response.json()) as unknown[]
      await response.waitUntil()
    }
    expect((returned['/http?id=http'] as Array<{ data: { runtime: string } }>)[0]!.data.runtime).toBe(
      'EdgeRuntime/edge-runtime',
    )
    await expectEmitted(db.url, env, messages, returned)
  })
})
