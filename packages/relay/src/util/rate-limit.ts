/**
 * Lets one event per key through per interval and counts the rest, so that a failure repeating every
 * second is still logged (with how many were held back) without flooding the log.
 */
export class RateLimit {
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #last = new Map<string, { at: number; suppressed: number }>()

  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs
    this.#now = now
  }

  /** `undefined` when the event should be held back; otherwise how many were held back since the last one. */
  take(key: string): number | undefined {
    const now = this.#now()
    const last = this.#last.get(key)
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed += 1
      return undefined
    }
    this.#last.set(key, { at: now, suppressed: 0 })
    return last?.suppressed ?? 0
  }

  /** Forget a key: its next event goes through at once. */
  clear(key: string): void {
    this.#last.delete(key)
  }
}
