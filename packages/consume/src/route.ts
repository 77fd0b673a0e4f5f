import { FactlibError } from './errors.js'
import type { Fact } from './fact.js'

/** Handlers by fact type: `M` maps each type to its `data`, `C` is what each handler gets besides the fact. */
export type Handlers<M, C> = { [T in keyof M & string]: (fact: Fact<M[T]>, context: C) => unknown }

/** Options of {@link route}. */
export interface RouteOptions {
  /** What a fact of a type without a handler does: `'skip'` it, or `'fail'` with `UNKNOWN_FACT_TYPE`. */
  unknown: 'skip' | 'fail'
}

/**
 * One handler per fact type. Resolves `true` when a handler ran, `false` for a skipped unknown type.
 *
 * @example
 * ```ts
 * type Orders = { 'order.placed': { total: number }; 'order.cancelled': { reason: string } }
 *
 * const handle = route<Orders, pg.ClientBase>({
 *   'order.placed': (fact, tx) => tx.query('insert into totals values ($1, $2)', [fact.aggregateId, fact.data.total]),
 *   'order.cancelled': (fact, tx) => tx.query('delete from totals where id = $1', [fact.aggregateId]),
 * }, { unknown: 'skip' })
 *
 * await inbox.handle(client, decode(record), handle)
 * ```
 */
export function route<M, C = void>(
  handlers: Handlers<M, C>,
  { unknown }: RouteOptions,
): (fact: Fact, context: C) => Promise<boolean> {
  return async (fact, context) => {
    const handler = Object.hasOwn(handlers, fact.type)
      ? (handlers as Record<string, (fact: Fact, context: C) => unknown>)[fact.type]
      : undefined
    if (handler) await handler(fact, context)
    else if (unknown !== 'skip')
      throw new FactlibError(
        'UNKNOWN_FACT_TYPE',
        `fact ${fact.id}: no handler for type ${fact.type}; add one, or route with { unknown: 'skip' }`,
      )
    return !!handler
  }
}
