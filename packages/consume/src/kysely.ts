import type { Queryable } from './inbox.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Kysely `Transaction` that the inbox uses. */
export interface KyselyTransaction {
  readonly isTransaction: boolean
  executeQuery(query: {
    readonly sql: string
    readonly parameters: readonly unknown[]
    readonly query: {
      readonly kind: 'RawNode'
      readonly sqlFragments: readonly string[]
      readonly parameters: readonly never[]
    }
    readonly queryId: { readonly queryId: string }
  }): Promise<unknown>
}

/**
 * Adapt a Kysely transaction (`trx` in `db.transaction().execute(async (trx) => …)`) for the inbox
 * (`executeQuery` resolves to `{ rows }`). Throws `CONSUME_NOT_IN_TRANSACTION` for the `Kysely` instance.
 *
 * @example
 * ```ts
 * import { fromKysely } from '@factlib/consume/kysely'
 *
 * await db.transaction().execute(async (trx) => {
 *   if (!(await inbox.claim(fromKysely(trx), fact))) return // already handled
 *   await trx.insertInto('shipments').values({ order_id: fact.aggregateId }).execute()
 * })
 * ```
 */
export function fromKysely(trx: KyselyTransaction): Queryable {
  if (trx?.isTransaction !== true) throw notInTransaction('Kysely', 'db.transaction().execute((trx) => …)')
  // The shape of CompiledQuery.raw(sql, parameters), built here so this adapter imports nothing from Kysely.
  return {
    query: (sql, parameters) =>
      trx.executeQuery({
        sql,
        parameters,
        query: { kind: 'RawNode', sqlFragments: [sql], parameters: [] },
        queryId: { queryId: 'factlib-consume' },
      }),
  }
}
