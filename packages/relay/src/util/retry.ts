/** Settings of {@link Backoff}, named as in kafkajs' retry module. */
export interface BackoffOptions {
  /** First delay in ms. @default 300 */
  initialRetryTime?: number
  /** Cap of a delay in ms. @default 30_000 */
  maxRetryTime?: number
  /** Each delay is the previous one times this. @default 2 */
  multiplier?: number
  /** Jitter: a delay is drawn uniformly from ±factor around its nominal value. @default 0.2 */
  factor?: number
  /** Uniform random number in [0, 1). @default Math.random */
  random?: () => number
}

/**
 * Capped exponential backoff with jitter, for loops that retry without end. The jitter keeps relays that
 * failed together from retrying together.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialRetryTime: 100, maxRetryTime: 10_000 })
 * for (;;) {
 *   try {
 *     await attempt()
 *     backoff.reset()
 *     break
 *   } catch {
 *     await sleep(backoff.next(), signal)
 *   }
 * }
 * ```
 */
export class Backoff {
  readonly #initial: number
  readonly #max: number
  readonly #multiplier: number
  readonly #factor: number
  readonly #random: () => number
  #attempts = 0

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialRetryTime ?? 300
    this.#max = options.maxRetryTime ?? 30_000
    this.#multiplier = options.multiplier ?? 2
    this.#factor = options.factor ?? 0.2
    this.#random = options.random ?? Math.random
    if (!(this.#initial > 0 && this.#max >= this.#initial && this.#multiplier >= 1 && this.#factor >= 0))
      throw new RangeError('Backoff needs 0 < initialRetryTime <= maxRetryTime, multiplier >= 1, factor >= 0')
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempts
  }

  /** The delay before the next attempt; counts one failed attempt. */
  next(): number {
    const nominal = Math.min(this.#initial * this.#multiplier ** this.#attempts, this.#max)
    this.#attempts += 1
    const jittered = nominal * (1 - this.#factor + 2 * this.#factor * this.#random())
    return Math.max(1, Math.round(Math.min(jittered, this.#max)))
  }

  reset(): void {
    this.#attempts = 0
  }
}

/** Wait `ms`, or less when `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
