import { context, isSpanContextValid, trace } from '@opentelemetry/api'
import type { TraceContext } from './fact.js'

/**
 * A `traceContext` hook for {@link createEmitter} that reads the active OpenTelemetry span, so each fact
 * carries the W3C trace context of the request that emitted it. Needs `@opentelemetry/api` (a peer
 * dependency); the core never imports it.
 *
 * @example
 * ```ts
 * import { createEmitter } from '@factlib/emit'
 * import { otelTraceContext } from '@factlib/emit/otel'
 *
 * const facts = createEmitter({ source: 'orders', traceContext: otelTraceContext })
 * ```
 */
export function otelTraceContext(): TraceContext | undefined {
  const span = trace.getSpanContext(context.active())
  if (!span || !isSpanContextValid(span)) return undefined
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0')
  return {
    traceparent: `00-${span.traceId}-${span.spanId}-${flags}`,
    tracestate: span.traceState?.serialize() || undefined,
  }
}
