/**
 * The one error type factlib throws. `code` is stable and safe to branch on; `message` says how to fix the
 * problem; `retriable` says whether the same call can succeed later without a change.
 *
 * @example
 * ```ts
 * try {
 *   await facts.emit(tx, fact)
 * } catch (error) {
 *   if (error instanceof FactlibError && error.code === 'FACT_INVALID') console.error(error.message)
 *   else throw error
 * }
 * ```
 */
export class FactlibError extends Error {
  // Fields are `declare`d and set in the constructor: a class field would cost its name twice in every bundle.
  declare readonly name: string
  /** Stable, machine-readable reason, e.g. `FACT_INVALID` or `WAL_LEVEL`. */
  declare readonly code: string
  /** True when retrying the same operation later may succeed. */
  declare readonly retriable: boolean

  constructor(code: string, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : options)
    this.name = 'FactlibError'
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/**
 * An invalid fact or option, thrown before any SQL is sent. `field` names the offending field (for a
 * batch, `index` is the fact's position in the array) and `rule` the rule it broke, e.g. `pattern`.
 *
 * @example
 * ```ts
 * try {
 *   await facts.emit(tx, fact)
 * } catch (error) {
 *   if (error instanceof ValidationError) console.error(error.field, error.rule, error.message)
 *   else throw error
 * }
 * ```
 */
export class ValidationError extends FactlibError {
  declare readonly name: string
  /** The fact field or option, e.g. `aggregateType` or `metadata.ce_id`. */
  declare readonly field: string
  /** The rule that failed: `required`, `pattern`, `length`, `exclusive`, `json`, `reserved`, `maxBytes`, … */
  declare readonly rule: string
  /** Position of the fact in the array given to `emit`, if it was given an array. */
  declare readonly index: number | undefined

  constructor(
    code: string,
    field: string,
    rule: string,
    message: string,
    options: { index?: number; cause?: unknown } = {},
  ) {
    super(code, message, options)
    this.name = 'ValidationError'
    this.field = field
    this.rule = rule
    this.index = options.index
  }
}
