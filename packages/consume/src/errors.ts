/**
 * The one error type `@factlib/consume` throws. `code` is stable and safe to branch on; `message` says how to
 * fix the problem.
 *
 * Codes: `NOT_A_FACT` (a record without the CloudEvents headers of a fact), `FACT_DATA_INVALID` (a JSON
 * content type whose payload is not JSON), `UNKNOWN_FACT_TYPE` (a router without a handler for the type),
 * `CONSUME_TX_INVALID`, `CONSUME_POOL_NOT_ALLOWED`, `CONSUME_NOT_IN_TRANSACTION` (also `claim` on a
 * node-postgres client outside a transaction), `CONSUME_IN_TRANSACTION` (`handle` on a client already in
 * one), `CONSUME_TX_ABORTED` (the handler's transaction failed though the handler returned),
 * `OPTIONS_INVALID`; from `@factlib/consume/lambda`, `BATCH_FAILED` (a Lambda batch with failed partitions).
 *
 * @example
 * ```ts
 * try {
 *   fact = decode(record)
 * } catch (error) {
 *   if (error instanceof FactlibError && error.code === 'NOT_A_FACT') console.warn(error.message)
 *   else throw error
 * }
 * ```
 */
export class FactlibError extends Error {
  // `declare`d fields: a class field would cost its name twice in every bundle.
  declare readonly name: string
  /** Stable, machine-readable reason, e.g. `NOT_A_FACT`. */
  declare readonly code: string

  constructor(code: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'FactlibError'
    this.code = code
  }
}
