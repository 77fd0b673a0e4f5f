import { FactlibError } from './errors.js'
import type { Fact, FactInput, TraceContext } from './fact.js'
import { emitStatement, type Statement } from './statement.js'
import { uuidv7 } from './uuid.js'
import { failure, NAME, text, toFact } from './validate.js'

/**
 * What `emit` needs from a transaction: `query(text, params)` returning a promise, as a node-postgres or
 * Neon `Client` or a client checked out of their `Pool` has. Adapters turn other drivers' transactions into
 * this shape (`@factlib/emit/postgres`, `/drizzle`, `/kysely`, `/prisma`).
 */
export interface Queryable {
  query(text: string, params: string[]): PromiseLike<unknown>
}

/** Options of {@link createEmitter}. */
export interface EmitterOptions {
  /** The emitting service: the WAL message prefix and the first part of the Kafka topic. `[a-zA-Z0-9._-]{1,100}` */
  source: string
  /** The largest envelope (header + payload, in bytes) to emit. @default 921600 (900 KiB) */
  maxBytes?: number
  /** The emit time of facts that give none. @default () => new Date() */
  clock?: () => Date
  /** Ids of facts that give none; must return UUIDs. @default a monotonic UUIDv7 generator */
  id?: () => string
  /** Trace context of the current request, used for facts that give none; see `@factlib/emit/otel`. */
  traceContext?: () => TraceContext | undefined
}

/** A statement that emits facts, for drivers that take queries rather than run them (`@factlib/emit/neon`). */
export interface PreparedEmit extends Statement {
  /** The facts the statement emits, in order, every field filled in. */
  readonly facts: Fact[]
}

/** Emits facts inside the caller's transaction; made by {@link createEmitter}. */
export interface Emitter {
  readonly source: string
  /**
   * Emit one fact, or an array of facts in one statement (WAL order = array order), inside the transaction
   * `tx`. Resolves to the emitted fact(s) once PostgreSQL has run the statement; the facts reach the relay
   * only if that transaction commits. An empty array sends nothing.
   *
   * @example
   * ```ts
   * const client = await pool.connect()
   * try {
   *   await client.query('begin')
   *   await client.query('insert into orders (id, total) values ($1, $2)', [42, 9])
   *   await facts.emit(client, { aggregateType: 'order', aggregateId: '42', type: 'order.placed', data: { total: 9 } })
   *   await client.query('commit')
   * } catch (error) {
   *   await client.query('rollback')
   *   throw error
   * } finally {
   *   client.release()
   * }
   * ```
   */
  emit(tx: Queryable, fact: FactInput): Promise<Fact>
  emit(tx: Queryable, facts: readonly FactInput[]): Promise<Fact[]>
  /**
   * Validate and encode facts into the statement `emit` would run, without running it.
   *
   * @example
   * ```ts
   * const { text, params, facts: emitted } = facts.prepare({ aggregateType: 'order', aggregateId: '42', type: 'order.placed', data: {} })
   * ```
   */
  prepare(facts: FactInput | readonly FactInput[]): PreparedEmit
}

/**
 * Create an emitter for one source. It holds no connection and no mutable global state: create it once
 * per module and use it from any request.
 *
 * @example
 * ```ts
 * import { createEmitter } from '@factlib/emit'
 *
 * const facts = createEmitter({ source: 'orders' })
 * await facts.emit(tx, { aggregateType: 'order', aggregateId: '42', type: 'order.placed', data: { total: 9 } })
 * await facts.emit(tx, [factA, factB, factC]) // one statement, WAL order = array order
 * ```
 */
export function createEmitter(options: EmitterOptions): Emitter {
  const fail = failure(undefined, 'OPTIONS_INVALID', 'options')
  const source = text(options?.source, 'source', fail, NAME)
  const { maxBytes = 900 * 1024, clock = () => new Date(), traceContext } = options
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) fail('maxBytes', 'integer')
  const nextId = options.id ?? uuidv7()

  const prepare = (input: FactInput | readonly FactInput[]): PreparedEmit => {
    const many = Array.isArray(input)
    const now = clock()
    const trace = traceContext?.()
    const pairs = (many ? input : [input as FactInput]).map((each, i) =>
      toFact(each, failure(many ? i : undefined), source, now, nextId, trace),
    )
    return emitStatement(source, pairs, maxBytes, many)
  }

  async function emit(tx: Queryable, input: FactInput | readonly FactInput[]): Promise<Fact | Fact[]> {
    // One short message for the three codes: every byte here is in every Worker bundle; the README explains
    // each code and its fix.
    const code =
      typeof tx?.query !== 'function'
        ? 'EMIT_TX_INVALID'
        : 'totalCount' in tx
          ? 'EMIT_POOL_NOT_ALLOWED'
          : // Neon's neon() HTTP function has query() too, but each call is a transaction of its own.
            typeof tx === 'function'
            ? 'EMIT_NOT_IN_TRANSACTION'
            : ''
    if (code) throw new FactlibError(code, "pass your transaction's client, not a pool or neon()")
    const { text, params, facts } = prepare(input)
    // A database error is the driver's own, as from any other statement of the transaction.
    if (facts.length) await tx.query(text, params)
    return Array.isArray(input) ? facts : facts[0]!
  }

  return { source, emit: emit as Emitter['emit'], prepare }
}
