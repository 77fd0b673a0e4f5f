import type { Queryable } from './inbox.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a postgres.js transaction (the `sql` given to `sql.begin`'s callback) that the inbox uses. */
export interface PostgresTransaction {
  unsafe(query: string, parameters: string[]): PromiseLike<unknown>
  savepoint: unknown
}

/**
 * Adapt a postgres.js transaction for the inbox (its queries resolve to an array of rows). Throws
 * `CONSUME_NOT_IN_TRANSACTION` for the root `sql`, whose queries may each run on another connection.
 *
 * @example
 * ```ts
 * import { fromPostgres } from '@factlib/consume/postgres'
 *
 * await sql.begin(async (tx) => {
 *   if (!(await inbox.claim(fromPostgres(tx), fact))) return // already handled
 *   await tx`insert into shipments (order_id) values (${fact.aggregateId})`
 * })
 * ```
 */
export function fromPostgres(tx: PostgresTransaction): Queryable {
  // Only the `sql` of sql.begin() and sql.savepoint() has savepoint(); the root and reserved ones do not.
  if (typeof tx?.savepoint !== 'function') throw notInTransaction('postgres.js', 'sql.begin((tx) => …)')
  // The inbox binds only strings (consumer, fact id, time), which postgres.js types accept.
  return { query: (text, params) => tx.unsafe(text, params as string[]) }
}
