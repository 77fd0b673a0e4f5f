import type { Queryable } from './emitter.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a postgres.js transaction (the `sql` given to `sql.begin`'s callback) that factlib uses. */
export interface PostgresTransaction {
  unsafe(query: string, parameters: string[]): PromiseLike<unknown>
  savepoint: unknown
}

/**
 * Adapt a postgres.js transaction for `emit`. Throws `EMIT_NOT_IN_TRANSACTION` for the root `sql`, whose
 * queries may each run on another connection of its pool.
 *
 * @example
 * ```ts
 * import { fromPostgres } from '@factlib/emit/postgres'
 *
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ${tx(order)}`
 *   await facts.emit(fromPostgres(tx), { aggregateType: 'order', aggregateId: order.id, type: 'order.placed', data: order })
 * })
 * ```
 */
export function fromPostgres(tx: PostgresTransaction): Queryable {
  // Only the `sql` of sql.begin() and sql.savepoint() has savepoint(); the root and reserved ones do not.
  if (typeof tx?.savepoint !== 'function') throw notInTransaction('postgres.js', 'sql.begin((tx) => …)')
  return { query: (text, params) => tx.unsafe(text, params) }
}
