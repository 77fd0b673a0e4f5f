import type { Queryable } from './emitter.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Drizzle PostgreSQL transaction (`tx` in `db.transaction(async (tx) => …)`) that factlib uses. */
export interface DrizzleTransaction {
  // `never`: Drizzle's own parameter type (string | SQLWrapper) is not importable without a dependency.
  execute(query: never): PromiseLike<unknown>
  rollback(): unknown
}

/**
 * Adapt a Drizzle transaction for `emit` (node-postgres, postgres.js, Neon WebSocket and every other
 * PostgreSQL driver with interactive transactions). Throws `EMIT_NOT_IN_TRANSACTION` for the database
 * object itself. Drizzle over Neon HTTP (`drizzle-orm/neon-http`) has no interactive transactions and cannot
 * emit atomically with its writes: use `drizzle-orm/neon-serverless`, or `@factlib/emit/neon`.
 *
 * @example
 * ```ts
 * import { fromDrizzle } from '@factlib/emit/drizzle'
 *
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values(order)
 *   await facts.emit(fromDrizzle(tx), { aggregateType: 'order', aggregateId: order.id, type: 'order.placed', data: order })
 * })
 * ```
 */
export function fromDrizzle(tx: DrizzleTransaction): Queryable {
  if (typeof tx?.rollback !== 'function') throw notInTransaction('Drizzle', 'db.transaction((tx) => …)')
  return {
    // Drizzle's execute() takes any SQL wrapper and builds the query with its toQuery(): this one is already
    // built, so the adapter needs nothing from Drizzle at run time.
    query: (sql, params) => {
      const query = { getSQL: () => query, toQuery: () => ({ sql, params }) }
      return tx.execute(query as never)
    },
  }
}
