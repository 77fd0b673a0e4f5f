// @factlib/relay/lambda: the relay as an AWS Lambda function. Each invocation (an EventBridge schedule) is
// one drain run: everything up to the server's flushed WAL position at the start is relayed and confirmed,
// within the invocation's deadline. Configured by the same environment variables as `factlib relay`.
import { FactlibError } from '@factlib/emit'
import { parseConfig } from './config/config.js'
import { jsonLogger } from './observability/log.js'
import { RelayMetrics } from './observability/metrics.js'
import type { DrainSummary } from './relay/drain.js'
import { startRelay } from './relay/start-relay.js'
import { createSink } from './sinks/create-sink.js'
import { applyRuntimeHeapFlags } from './util/heap-flags.js'

export type { DrainSummary } from './relay/drain.js'

// The relay's heap settings, as `factlib relay` runs with them (util/heap-flags.ts), as far as V8 takes them here.
applyRuntimeHeapFlags()

/** The part of Lambda's context object the handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number
  awsRequestId?: string
}

/** Kept back from the invocation's remaining time for closing connections and returning. */
export const DEADLINE_MARGIN_MS = 3_000

/**
 * One drain per invocation. Reading stops at `getRemainingTimeInMillis()` minus the time kept to finish
 * what is in flight (FACTLIB_SHUTDOWN_TIMEOUT, at most a quarter of the time) and a margin, or earlier at
 * FACTLIB_DRAIN_MAX_SECONDS / FACTLIB_DRAIN_MAX_FACTS. Binds no port; logs JSON lines on stderr and writes
 * EMF metrics on stdout (FACTLIB_METRICS defaults to `emf` here). Resolves with the run's summary
 * (`outcome` `drained`, `bounded` or `busy`); rejects when the run failed, so the invocation fails.
 */
export async function handler(_event: unknown, context: LambdaContext): Promise<DrainSummary> {
  const config = parseConfig({ FACTLIB_METRICS: 'emf', ...process.env })
  const log = jsonLogger({ level: config.logLevel }).child({
    component: 'relay',
    ...(context.awsRequestId ? { requestId: context.awsRequestId } : {}),
  })
  const remainingMs = context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS
  const finishMs = Math.min(config.shutdownTimeoutMs, Math.floor(remainingMs / 4))
  const readMs = remainingMs - finishMs
  if (readMs <= 0)
    throw new FactlibError(
      'LAMBDA_TIMEOUT',
      `the invocation has ${context.getRemainingTimeInMillis()} ms left: too little for a drain run`,
    )
  // Counted from now: connecting and checking the database and Kafka come out of the same time.
  const stopReadingAt = Date.now() + readMs
  const metrics = new RelayMetrics()
  const sink = createSink(config, { log, metrics })
  const relay = await startRelay(
    { ...config, shutdownTimeoutMs: finishMs },
    {
      log,
      sink,
      metrics,
      drain: { maxSeconds: config.drainMaxSeconds, maxFacts: config.drainMaxFacts, stopReadingAt },
    },
  )
  const code = await relay.done
  const summary = await relay.drained
  if (code === 1 || !summary) throw new FactlibError('DRAIN_FAILED', 'the drain run failed; see the log')
  log.info('drain finished', { ...summary })
  return summary
}
