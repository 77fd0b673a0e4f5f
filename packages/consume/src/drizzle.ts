import type { Queryable } from './inbox.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Drizzle PostgreSQL transaction (`tx` in `db.transaction(async (tx) => …)`) that the inbox uses. */
export interface DrizzleTransaction {
  // `never`: Drizzle's own parameter type (string | SQLWrapper) is not importable without a dependency.
  execute(query: never): PromiseLike<unknown>
  rollback(): unknown
}

/**
 * Adapt a Drizzle transaction for the inbox (node-postgres and Neon WebSocket resolve `execute` to
 * `{ rows }`, postgres.js to the rows: the inbox reads both). Throws `CONSUME_NOT_IN_TRANSACTION` for the
 * database object itself. Drizzle over Neon HTTP has no interactive transactions: use
 * `@factlib/consume/neon`.
 *
 * @example
 * ```ts
 * import { fromDrizzle } from '@factlib/consume/drizzle'
 *
 * await db.transaction(async (tx) => {
 *   if (!(await inbox.claim(fromDrizzle(tx), fact))) return // already handled
 *   await tx.insert(shipments).values({ orderId: fact.aggregateId })
 * })
 * ```
 */
export function fromDrizzle(tx: DrizzleTransaction): Queryable {
  if (typeof tx?.rollback !== 'function') throw notInTransaction('Drizzle', 'db.transaction((tx) => …)')
  return {
    // execute() takes any SQL wrapper and builds the query with its toQuery(): this one is already built.
    query: (sql, params) => {
      const query = { getSQL: () => query, toQuery: () => ({ sql, params }) }
      return tx.execute(query as never)
    },
  }
}
