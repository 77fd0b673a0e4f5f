import type { Queryable } from './inbox.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Prisma interactive transaction client (`tx` in `prisma.$transaction(async (tx) => …)`) that the inbox uses. */
export interface PrismaTransaction {
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown>
}

/**
 * Adapt a Prisma interactive transaction for the inbox (Prisma 7 with a driver adapter such as
 * `@prisma/adapter-pg`; `$queryRawUnsafe` resolves to the rows). Throws `CONSUME_NOT_IN_TRANSACTION` for
 * the `PrismaClient` itself, whose every query is a transaction of its own.
 *
 * @example
 * ```ts
 * import { fromPrisma } from '@factlib/consume/prisma'
 *
 * await prisma.$transaction(async (tx) => {
 *   if (!(await inbox.claim(fromPrisma(tx), fact))) return // already handled
 *   await tx.shipment.create({ data: { orderId: fact.aggregateId } })
 * })
 * ```
 */
export function fromPrisma(tx: PrismaTransaction): Queryable {
  // An interactive transaction client has no $disconnect (nor $connect, $on, $extends); the PrismaClient has.
  if (
    typeof tx?.$queryRawUnsafe !== 'function' ||
    typeof (tx as { $disconnect?: unknown }).$disconnect === 'function'
  )
    throw notInTransaction('Prisma', 'prisma.$transaction(async (tx) => …)')
  return { query: (text, params) => tx.$queryRawUnsafe(text, ...params) }
}
