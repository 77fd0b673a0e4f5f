import { FactlibError } from '@factlib/emit'
import type { RelayConfig } from '../config/config.js'
import { type HttpServer, startHttp } from '../observability/http.js'
import { errorFields, errorMessage } from '../util/error-fields.js'
import type { RelayState } from './relay-state.js'

/**
 * Serve /healthz, /readyz and /metrics from the relay's state, from the first second on. A port that
 * cannot be bound fails the start with the variable to change.
 */
export function serveEndpoints(port: number, state: RelayState): Promise<HttpServer> {
  const { metrics } = state
  return startHttp(port, {
    notReady: () => state.notReady(),
    metrics: () => {
      metrics.slotLagSeconds = state.lagSeconds()
      return metrics.prometheus()
    },
    status: () => ({ ...state.status() }),
  }).catch((error: unknown) => {
    throw new FactlibError(
      'HTTP_PORT',
      errorFields(error)?.code === 'EADDRINUSE'
        ? `FACTLIB_HTTP_PORT ${port} is already in use; choose another port`
        : `cannot serve HTTP on port ${port}: ${errorMessage(error)}`,
      { cause: error },
    )
  })
}

/**
 * With `config.metrics` `emf`, write a CloudWatch EMF line every `metricsIntervalSeconds`. Returns what
 * ends it, which writes one last line so the final totals are not lost; without EMF, nothing.
 */
export function writeEmfLines(
  config: RelayConfig,
  state: RelayState,
  write: (line: string) => void,
): (() => void) | undefined {
  if (config.metrics !== 'emf') return undefined
  const { metrics } = state
  const writeLine = () => {
    metrics.slotLagSeconds = state.lagSeconds()
    write(`${metrics.emf(config.metricsNamespace, config.slot)}\n`)
  }
  const timer = setInterval(writeLine, config.metricsIntervalSeconds * 1000)
  return () => {
    clearInterval(timer)
    writeLine()
  }
}
