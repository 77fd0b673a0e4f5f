import { FactlibError } from './errors.js'
import type { Fact } from './fact.js'
import type { Inbox } from './inbox.js'

/** The part of Neon's HTTP `sql` (from `neon(url)`) that the inbox uses; `Q` is the query its `transaction` takes. */
export interface NeonHttp<Q> {
  query(text: string, params: unknown[]): unknown
  transaction(queries: Q[]): PromiseLike<unknown>
}

/**
 * Handle `fact` once through Neon's HTTP driver, whose transactions are non-interactive: the inbox insert
 * (without `on conflict`) goes first, then the queries `queries(sql)` returns, all in one
 * `sql.transaction([...])`. Resolves `true` when they committed, `false` when the inbox already held the
 * fact (the insert's unique violation `23505` on `<table>_pkey` aborted the transaction). Any other error,
 * a `23505` of your own queries included, rolls everything back and propagates, so the fact is retried.
 * For Neon's WebSocket `Client` use `inbox.handle` or `inbox.claim` directly.
 *
 * @example
 * ```ts
 * import { neon } from '@neondatabase/serverless'
 * import { handleOnNeon } from '@factlib/consume/neon'
 *
 * const sql = neon(env.DATABASE_URL)
 * await handleOnNeon(sql, inbox, fact, (sql) => [
 *   sql`insert into shipments (order_id) values (${fact.aggregateId})`,
 * ])
 * ```
 */
export async function handleOnNeon<Q, S extends NeonHttp<Q>>(
  sql: S & NeonHttp<Q>,
  inbox: Pick<Inbox, 'insert' | 'table'>,
  fact: Fact,
  queries: (sql: S) => Q[],
): Promise<boolean> {
  if (typeof sql?.transaction !== 'function')
    throw new FactlibError(
      'CONSUME_TX_INVALID',
      'handleOnNeon: pass the sql of neon(url); with a Neon WebSocket Client use inbox.handle',
    )
  const { text, params } = inbox.insert(fact)
  try {
    await sql.transaction([sql.query(text, params) as Q, ...queries(sql)])
    return true
  } catch (error) {
    const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string }
    // PostgreSQL's name for the key: the table's name cut to 58 bytes (names are ≤ 63), then _pkey.
    if (code === '23505' && constraint === `${inbox.table.split('.').pop()!.slice(0, 58)}_pkey`) return false
    throw error
  }
}
