import type { Queryable } from './emitter.js'
import { notInTransaction } from './not-in-transaction.js'

/** The part of a Prisma interactive transaction client (`tx` in `prisma.$transaction(async (tx) => …)`) that factlib uses. */
export interface PrismaTransaction {
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown>
}

/**
 * Adapt a Prisma interactive transaction for `emit` (Prisma 7 with a driver adapter such as
 * `@prisma/adapter-pg`). Throws `EMIT_NOT_IN_TRANSACTION` for the `PrismaClient` itself. Prisma over Neon
 * HTTP (`PrismaNeonHttp`) has no interactive transactions and cannot emit atomically with its writes.
 *
 * @example
 * ```ts
 * import { fromPrisma } from '@factlib/emit/prisma'
 *
 * await prisma.$transaction(async (tx) => {
 *   await tx.order.create({ data: order })
 *   await facts.emit(fromPrisma(tx), { aggregateType: 'order', aggregateId: order.id, type: 'order.placed', data: order })
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
