import type { Queryable } from './emitter.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Kysely `Transaction` that factlib uses. */
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
 * Adapt a Kysely transaction (`trx` in `db.transaction().execute(async (trx) => …)`) for `emit`. Throws
 * `EMIT_NOT_IN_TRANSACTION` for the `Kysely` instance itself.
 *
 * @example
 * ```ts
 * import { fromKysely } from '@factlib/emit/kysely'
 *
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('orders').values(order).execute()
 *   await facts.emit(fromKysely(trx), { aggregateType: 'order', aggregateId: order.id, type: 'order.placed', data: order })
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
        queryId: { queryId: 'factlib-emit' },
      }),
  }
}
