import { describe, expect, test, vi } from 'vitest'
import { withTimeout } from '../src/util/timeout.js'

describe('withTimeout', () => {
  test('settles as the promise does when it is in time, and leaves no timer behind', async () => {
    vi.useFakeTimers()
    try {
      const onTimeout = vi.fn(() => new Error('late'))
      await expect(withTimeout(Promise.resolve('value'), 1_000, onTimeout)).resolves.toBe('value')
      const failure = new Error('own failure')
      await expect(withTimeout(Promise.reject(failure), 1_000, onTimeout)).rejects.toBe(failure)
      expect(vi.getTimerCount()).toBe(0)
      expect(onTimeout).not.toHaveBeenCalled()
    } finally {
      vi.useRealTimers()
    }
  })

  test('rejects with the error onTimeout makes once ms passed; a negative ms times out at once', async () => {
    vi.useFakeTimers()
    try {
      const late = new Error('no answer within 50 ms')
      const never = new Promise<never>(() => {})
      const timedOut = withTimeout(never, 50, () => late)
      const check = expect(timedOut).rejects.toBe(late)
      await vi.advanceTimersByTimeAsync(49)
      expect(vi.getTimerCount()).toBe(1)
      await vi.advanceTimersByTimeAsync(1)
      await check
      const overdue = withTimeout(never, -5, () => late)
      const checkOverdue = expect(overdue).rejects.toBe(late)
      await vi.advanceTimersByTimeAsync(0)
      await checkOverdue
    } finally {
      vi.useRealTimers()
    }
  })

  test('a promise that rejects after the timeout is not an unhandled rejection', async () => {
    let fail: (error: Error) => void = () => {}
    const slow = new Promise<never>((_, reject) => {
      fail = reject
    })
    await expect(withTimeout(slow, 1, () => new Error('late'))).rejects.toThrow('late')
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    try {
      fail(new Error('too late to matter'))
      await new Promise((resolve) => setTimeout(resolve, 10))
      expect(unhandled).not.toHaveBeenCalled()
    } finally {
      process.off('unhandledRejection', unhandled)
    }
  })
})
