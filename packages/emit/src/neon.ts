import type { PreparedEmit } from './emitter.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of Neon's HTTP `sql` (from `neon(url)`) that factlib uses; `Q` is the query its `transaction` takes. */
export interface NeonHttp<Q> {
  query(text: string, params: string[]): unknown
  transaction(queries: Q[]): unknown
}

/**
 * The query that emits prepared facts through Neon's HTTP driver, to put inside `sql.transaction([...])`
 * with your writes: HTTP transactions are non-interactive, so the statement is built first and sent with
 * the others in one request. For Neon's WebSocket `Client` or `Pool` clients use `emit` directly.
 *
 * @example
 * ```ts
 * import { neon } from '@neondatabase/serverless'
 * import { emitQuery } from '@factlib/emit/neon'
 *
 * const sql = neon(env.DATABASE_URL)
 * const placed = facts.prepare({ aggregateType: 'order', aggregateId: id, type: 'order.placed', data: order })
 * await sql.transaction([sql`insert into orders (id, total) values (${id}, ${order.total})`, emitQuery(sql, placed)])
 * // placed.facts[0].id is the fact's id
 * ```
 */
export function emitQuery<Q>(sql: NeonHttp<Q>, prepared: PreparedEmit): Q {
  if (typeof sql?.transaction !== 'function') throw notInTransaction('neon()', 'sql.transaction([…])')
  return sql.query(prepared.text, prepared.params) as Q
}
