import { FactlibError } from './errors.js'
import type { Fact } from './fact.js'

/**
 * What the inbox needs from a transaction: `query(text, params)` resolving to rows or to `{ rows }`, as a
 * node-postgres or Neon WebSocket `Client` (or a client checked out of their `Pool`) has. Adapters turn
 * other drivers' transactions into this shape (`@factlib/consume/postgres`, `/drizzle`, `/kysely`, `/prisma`).
 */
export interface Queryable {
  query(text: string, params: unknown[]): PromiseLike<unknown>
}

/** A statement for drivers that take queries rather than run them (`@factlib/consume/neon`). */
export interface Statement {
  text: string
  params: unknown[]
}

/** Options of {@link createInbox}. */
export interface InboxOptions {
  /** The consuming service; also its Kafka consumer group, usually. Two consumers may share one table. */
  consumer: string
  /** The inbox table, optionally schema-qualified. @default 'factlib_inbox' */
  table?: string
}

/** Records handled facts inside the consumer's own transactions; made by {@link createInbox}. */
export interface Inbox {
  readonly consumer: string
  readonly table: string
  /**
   * Inside your transaction `tx`: record `fact` as handled and resolve `true` the first time, `false` when
   * this consumer already handled it (a redelivery: do nothing). If the transaction rolls back, so does the
   * record, and the fact counts as not handled.
   *
   * @example
   * ```ts
   * await db.transaction(async (tx) => {
   *   if (!(await inbox.claim(fromDrizzle(tx), fact))) return // already handled
   *   await tx.insert(projection).values({ id: fact.aggregateId })
   * })
   * ```
   */
  claim(tx: Queryable, fact: Fact): Promise<boolean>
  /**
   * Run `handler` for `fact` exactly once: in one transaction on `client`, claim the fact, run the handler
   * with the same client, commit. Resolves `true` when the handler ran and committed, `false` for a fact
   * already handled. A handler that throws rolls back its writes and the claim, and the error propagates
   * so the fact is retried. `client` must be one connection (node-postgres or Neon WebSocket `Client`, or a
   * client from `pool.connect()`), not a pool.
   *
   * @example
   * ```ts
   * const handled = await inbox.handle(client, fact, async (fact, tx) => {
   *   await tx.query('insert into shipments (order_id) values ($1)', [fact.aggregateId])
   * })
   * ```
   */
  handle<C extends Queryable>(
    client: C,
    fact: Fact,
    handler: (fact: Fact, tx: C) => unknown,
  ): Promise<boolean>
  /** The plain insert of `fact` (no `on conflict`): for Neon HTTP transactions, see `@factlib/consume/neon`. */
  insert(fact: Fact): Statement
  /**
   * Delete this consumer's rows handled before `before`; resolves to how many. Rows must outlive the topic's
   * retention: a consumer whose offsets are reset replays every fact the topic still holds.
   *
   * @example
   * ```ts
   * await inbox.purge(client, new Date(Date.now() - 14 * 86_400_000)) // topic retention is 7 days
   * ```
   */
  purge(tx: Queryable, before: Date): Promise<number>
}

/**
 * The inbox table's SQL for `table` (the migration file `@factlib/consume/inbox.sql` is this for the
 * default name). Each statement is idempotent.
 */
export function inboxSql(table = 'factlib_inbox'): string[] {
  const name = checkTable(table)
  const bare = name.split('.').pop()
  return [
    `create table if not exists ${name} (consumer text not null, fact_id text not null, handled_at timestamptz not null default now(), primary key (consumer, fact_id))`,
    `create index if not exists ${bare}_handled_at on ${name} (handled_at)`,
  ]
}

/**
 * Create the inbox table if it does not exist.
 *
 * @example
 * ```ts
 * await migrateInbox(client) // or: psql -f node_modules/@factlib/consume/inbox.sql
 * ```
 */
export async function migrateInbox(tx: Queryable, table?: string): Promise<void> {
  for (const statement of inboxSql(table)) await check(tx).query(statement, [])
}

/**
 * Create the inbox of one consumer. It holds no connection: create it once per module.
 *
 * @example
 * ```ts
 * import { createInbox, decode } from '@factlib/consume'
 *
 * const inbox = createInbox({ consumer: 'shipping' })
 * await inbox.handle(client, decode(record), async (fact, tx) => {
 *   await tx.query('insert into shipments (order_id) values ($1)', [fact.aggregateId])
 * })
 * ```
 */
export function createInbox({ consumer, table = 'factlib_inbox' }: InboxOptions): Inbox {
  if (typeof consumer !== 'string' || !consumer)
    throw new FactlibError('OPTIONS_INVALID', 'createInbox: name the consumer, e.g. { consumer: "shipping" }')
  checkTable(table)
  const insert = (fact: Fact): Statement => ({
    text: `insert into ${table} (consumer, fact_id) values ($1, $2)`,
    params: [consumer, fact.id],
  })
  const claim = async (tx: Queryable, fact: Fact) => {
    // Outside a transaction the claim would commit at once, before the handler's writes.
    if (txStatus(check(tx)) === 'I')
      throw new FactlibError(
        'CONSUME_NOT_IN_TRANSACTION',
        'claim runs in your transaction: begin first, or use handle',
      )
    const { text, params } = insert(fact)
    return rows(await tx.query(`${text} on conflict do nothing returning 1`, params)).length > 0
  }
  return {
    consumer,
    table,
    claim,
    insert,
    async handle(client, fact, handler) {
      // Its own transaction: a begin inside the caller's would only warn, and the commit would end theirs.
      if (/[TE]/.test(txStatus(check(client))))
        throw new FactlibError(
          'CONSUME_IN_TRANSACTION',
          'handle opens its own transaction; in yours, use claim',
        )
      await client.query('begin', [])
      try {
        const first = await claim(client, fact)
        if (first) await handler(fact, client)
        // A commit of a transaction that failed (a handler that caught its own SQL error) is a rollback.
        const done = await client.query(first ? 'commit' : 'rollback', [])
        if (first && (done as { command?: string })?.command === 'ROLLBACK')
          throw new FactlibError(
            'CONSUME_TX_ABORTED',
            `fact ${fact.id}: the transaction failed (a caught SQL error?)`,
          )
        return first
      } catch (error) {
        await client.query('rollback', []).then(undefined, () => {})
        throw error
      }
    },
    async purge(tx, before) {
      const result = await check(tx).query(
        `with gone as (delete from ${table} where consumer = $1 and handled_at < $2 returning 1) select count(*)::int as n from gone`,
        [consumer, before.toISOString()],
      )
      return (rows(result)[0] as { n: number }).n
    },
  }
}

// node-postgres tells its transaction status (I idle, T in a transaction, E failed); other drivers do not.
const txStatus = (tx: Queryable): string =>
  (tx as { getTransactionStatus?: () => string | null }).getTransactionStatus?.() ?? ''

const rows = (result: unknown): unknown[] =>
  Array.isArray(result) ? result : ((result as { rows?: unknown[] })?.rows ?? [])

function checkTable(table: string): string {
  if (!/^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/.test(table))
    throw new FactlibError(
      'OPTIONS_INVALID',
      `inbox table ${JSON.stringify(table)}: use a lower-case SQL name like app.inbox`,
    )
  return table
}

function check<T extends Queryable>(tx: T): T {
  // The same refusals as @factlib/emit: a pool runs each query on any connection, neon() each in its own transaction.
  const code =
    typeof tx?.query !== 'function'
      ? 'CONSUME_TX_INVALID'
      : 'totalCount' in tx
        ? 'CONSUME_POOL_NOT_ALLOWED'
        : typeof tx === 'function'
          ? 'CONSUME_NOT_IN_TRANSACTION'
          : ''
  if (code)
    throw new FactlibError(code, "pass one connection or your transaction's client, not a pool or neon()")
  return tx
}
