import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import { describe, expect, test } from 'vitest'
import { launchRelay } from '../../../test/harness/relay-process.js'
import { compactHeap, missingHeapFlags, RELAY_HEAP_FLAGS } from '../src/util/heap-flags.js'

describe('factlib relay runs with its heap flags', () => {
  test('added when missing; a flag the operator set, on the command line or in NODE_OPTIONS, stays theirs', () => {
    expect(missingHeapFlags([], '')).toEqual(RELAY_HEAP_FLAGS)
    const [first = '', ...rest] = RELAY_HEAP_FLAGS
    const name = first.split('=')[0] ?? ''
    expect(missingHeapFlags([`${name}=64`])).toEqual(rest)
    expect(missingHeapFlags([], `--inspect ${name.replaceAll('-', '_').replace(/^__/, '--')}=1`)).toEqual(
      rest,
    )
    expect(missingHeapFlags([...RELAY_HEAP_FLAGS])).toEqual([])
  })

  test('`node main.js relay` replaces itself (same PID) by a Node with them', async () => {
    // No database there: the relay runs long enough to read its command line, then fails to connect.
    const relay = launchRelay({
      DATABASE_URL: 'postgres://factlib:pw@127.0.0.1:1/app',
      FACTLIB_SINK: 'stdout',
    })
    let cmdline: string[] = []
    for (let tries = 0; tries < 200 && !RELAY_HEAP_FLAGS.every((flag) => cmdline.includes(flag)); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      try {
        cmdline = readFileSync(`/proc/${relay.pid}/cmdline`, 'utf8').split('\0')
      } catch {
        break // it ended
      }
    }
    relay.kill('SIGKILL')
    await relay.exited
    expect(cmdline).toEqual(expect.arrayContaining([...RELAY_HEAP_FLAGS, 'relay']))
  })

  test('compactHeap hands the pages of garbage back to the system, and leaves no gc() to the program or later contexts', () => {
    const MiB = 1024 * 1024
    // ~40 MiB of small objects that outlive young collections, as a start's module loading leaves them.
    let garbage: Array<{ n: number; s: string }> | undefined = Array.from({ length: 600_000 }, (_, n) => ({
      n,
      s: `value ${n}`,
    }))
    expect(garbage.length).toBe(600_000)
    garbage = undefined
    const before = process.memoryUsage().heapTotal
    compactHeap()
    const after = process.memoryUsage().heapTotal
    expect(before - after).toBeGreaterThan(16 * MiB)
    expect('gc' in globalThis).toBe(false)
    expect(runInNewContext('typeof gc')).toBe('undefined')

    // Once per process: a second relay start (a warm Lambda invocation) is not paused for a collection.
    garbage = Array.from({ length: 600_000 }, (_, n) => ({ n, s: `value ${n}` }))
    expect(garbage.length).toBe(600_000)
    garbage = undefined
    const again = process.memoryUsage().heapTotal
    compactHeap()
    expect(again - process.memoryUsage().heapTotal).toBeLessThan(4 * MiB)
  })
})
