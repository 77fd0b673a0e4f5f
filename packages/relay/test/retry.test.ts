import { describe, expect, test } from 'vitest'
import { RateLimit } from '../src/util/rate-limit.js'
import { Backoff, sleep } from '../src/util/retry.js'

describe('Backoff', () => {
  test('grows exponentially from the initial delay to the cap, jittered within ±factor', () => {
    const nominal = new Backoff({ initialRetryTime: 100, maxRetryTime: 1_000, random: () => 0.5 })
    expect(Array.from({ length: 7 }, () => nominal.next())).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000])
    expect(nominal.attempts).toBe(7)
    const low = new Backoff({ initialRetryTime: 100, maxRetryTime: 1_000, factor: 0.2, random: () => 0 })
    const high = new Backoff({
      initialRetryTime: 100,
      maxRetryTime: 1_000,
      factor: 0.2,
      random: () => 0.999999,
    })
    expect([low.next(), low.next(), low.next()]).toEqual([80, 160, 320])
    expect([high.next(), high.next(), high.next()]).toEqual([120, 240, 480])
    // Jitter never passes the cap.
    for (let index = 0; index < 10; index++) high.next()
    expect(high.next()).toBe(1_000)
  })

  test('reset starts again from the initial delay', () => {
    const backoff = new Backoff({ initialRetryTime: 50, random: () => 0.5 })
    backoff.next()
    backoff.next()
    backoff.reset()
    expect(backoff.attempts).toBe(0)
    expect(backoff.next()).toBe(50)
  })

  test('refuses settings that cannot back off', () => {
    expect(() => new Backoff({ initialRetryTime: 0 })).toThrow(RangeError)
    expect(() => new Backoff({ initialRetryTime: 10, maxRetryTime: 5 })).toThrow(RangeError)
  })
})

describe('sleep', () => {
  test('ends early when its signal aborts, and at once when it already has', async () => {
    const controller = new AbortController()
    const started = Date.now()
    const sleeping = sleep(60_000, controller.signal)
    controller.abort()
    await sleeping
    expect(Date.now() - started).toBeLessThan(1_000)
    await sleep(60_000, controller.signal)
    expect(Date.now() - started).toBeLessThan(1_000)
  })
})

describe('RateLimit', () => {
  test('lets one event per key through per interval and counts the held-back ones', () => {
    let now = 0
    const limit = new RateLimit(1_000, () => now)
    expect(limit.take('a')).toBe(0)
    expect(limit.take('a')).toBeUndefined()
    expect(limit.take('b')).toBe(0)
    now = 500
    expect(limit.take('a')).toBeUndefined()
    now = 1_000
    expect(limit.take('a')).toBe(2)
    limit.clear('a')
    expect(limit.take('a')).toBe(0)
  })
})
