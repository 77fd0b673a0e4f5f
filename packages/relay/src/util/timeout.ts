/**
 * `promise`'s outcome, or a rejection with `onTimeout()` when it has not settled within `ms` (at least 0).
 * The timer is cleared either way. The promise itself is not cancelled: stop its work with its own means
 * (an AbortSignal, a disconnect) when the timeout matters.
 *
 * @example
 * ```ts
 * await withTimeout(admin.connect(), 5_000, () => new FactlibError('TIMEOUT', 'no answer within 5 s'))
 * ```
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms))
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
