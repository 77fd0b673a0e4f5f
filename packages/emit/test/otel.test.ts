import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  TraceFlags,
  trace,
} from '@opentelemetry/api'
import { afterAll, describe, expect, test } from 'vitest'
import { createEmitter } from '../src/index.js'
import { otelTraceContext } from '../src/otel.js'
import { order, recordingTx } from './helpers.js'

/** The smallest real ContextManager: a stack, enough for work that reads the context synchronously. */
class StackContextManager implements ContextManager {
  private stack: Context[] = []
  active = () => this.stack.at(-1) ?? ROOT_CONTEXT
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ) {
    this.stack.push(ctx)
    try {
      return fn.call(thisArg, ...args)
    } finally {
      this.stack.pop()
    }
  }
  bind = <T>(_: Context, target: T) => target
  enable = () => this
  disable = () => {
    this.stack = []
    return this
  }
}

context.setGlobalContextManager(new StackContextManager())
afterAll(() => context.disable())

const spanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  traceState: { serialize: () => 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' } as never,
}

describe('@factlib/emit/otel', () => {
  test('facts emitted inside an active span carry its W3C trace context', async () => {
    const tx = recordingTx()
    const facts = createEmitter({ source: 'orders', traceContext: otelTraceContext })
    const fact = await context.with(trace.setSpanContext(context.active(), spanContext), () =>
      facts.emit(tx, order('1')),
    )
    expect(fact.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
    expect(fact.tracestate).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')
    expect(tx.queries[0]!.params[1]).toContain(
      '\\"traceparent\\":\\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\\"',
    )
  })

  test('an unsampled span gives flags 00 and no tracestate when it has none', () => {
    const unsampled = { ...spanContext, traceFlags: TraceFlags.NONE, traceState: undefined }
    const hook = context.with(trace.setSpanContext(context.active(), unsampled), otelTraceContext)
    expect(hook).toEqual({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
      tracestate: undefined,
    })
  })

  test('without an active span, or with an invalid one, facts carry no trace context', async () => {
    const facts = createEmitter({ source: 'orders', traceContext: otelTraceContext })
    expect((await facts.emit(recordingTx(), order('1'))).traceparent).toBeUndefined()
    const invalid = { ...spanContext, traceId: '0'.repeat(32) }
    const fact = await context.with(trace.setSpanContext(context.active(), invalid), () =>
      facts.emit(recordingTx(), order('1')),
    )
    expect(fact.traceparent).toBeUndefined()
  })
})
