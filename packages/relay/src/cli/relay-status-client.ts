import { FactlibError } from '@factlib/emit'
import { errorFields, errorMessage } from '../util/error-fields.js'

/** What a running relay reports on `/readyz`. */
export interface RelayHttpStatus {
  ready: boolean
  reasons: string[]
  state?: string
  slot?: string
  confirmedLsn?: string | null
  /** Facts Kafka (or stdout) acknowledged since the relay started. */
  relayed?: number
  deadLettered?: number
  produceErrors?: number
  slotLagBytes?: number
  /** Age of the oldest transaction read but not yet confirmed; 0 when none. */
  slotLagSeconds?: number
  inflightBytes?: number
  /** Seconds since the oldest batch the sink has not acknowledged was first handed to it; 0 when none. */
  sinkStallSeconds?: number
  /** The kind of the sink's last failed attempt during that time; null when it reported none. */
  sinkErrorKind?: string | null
  /** Whether the stall is longer than the relay's `FACTLIB_STALL_SECONDS`. */
  sinkStalled?: boolean
}

/** The base URL of a relay's HTTP server from `--relay-url` or a port on this machine. */
export function relayBaseUrl(relayUrl: string | undefined, port: number | undefined): string | undefined {
  if (relayUrl) return relayUrl.replace(/\/+$/, '')
  return port === undefined ? undefined : `http://127.0.0.1:${port}`
}

/** Read a relay's `/readyz` (answered with 200 when ready, 503 when not, JSON either way). */
export async function fetchRelayStatus(baseUrl: string, timeoutMs = 3_000): Promise<RelayHttpStatus> {
  let response: Response
  try {
    response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    // fetch() fails with "fetch failed"; why (ECONNREFUSED, a timeout) is its cause.
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error
    throw new FactlibError(
      'RELAY_UNREACHABLE',
      `cannot reach the relay at ${baseUrl}: ${errorFields(cause)?.code ?? errorMessage(cause)}` +
        ' (is it running, and is that its FACTLIB_HTTP_PORT?)',
      { cause: error, retriable: true },
    )
  }
  const body = (await response.json().catch(() => undefined)) as RelayHttpStatus | undefined
  if ((response.status !== 200 && response.status !== 503) || typeof body?.ready !== 'boolean')
    throw new FactlibError(
      'RELAY_UNREACHABLE',
      `${baseUrl}/readyz answered HTTP ${response.status} without a relay status: is that a factlib relay?`,
    )
  return body
}

/** Facts per second from samples of a growing total, over the last few seconds. */
export class RateMeter {
  readonly #samples: Array<{ at: number; total: number }> = []
  constructor(readonly windowMs = 5_000) {}

  add(total: number, at = Date.now()): void {
    this.#samples.push({ at, total })
    while (this.#samples.length > 2 && at - (this.#samples[1]?.at ?? at) >= this.windowMs)
      this.#samples.shift()
  }

  /** The rate over the window; 0 until there are two samples. */
  perSecond(): number {
    const first = this.#samples[0]
    const last = this.#samples.at(-1)
    if (!first || !last || last.at === first.at) return 0
    return Math.max(0, ((last.total - first.total) * 1000) / (last.at - first.at))
  }
}
