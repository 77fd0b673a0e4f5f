/** What PostgreSQL puts on an error (`code` is the SQLSTATE), or Node on a system error (`code` only). */
export interface ErrorFields {
  code: string
  detail: string | undefined
  hint: string | undefined
}

/**
 * The `code`, `detail` and `hint` of an error from `pg` (or of a Node system error such as `ECONNREFUSED`),
 * or `undefined` when it has no string `code`: read as data, without casts.
 */
export function errorFields(error: unknown): ErrorFields | undefined {
  if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string') return undefined
  return {
    code: error.code,
    detail: 'detail' in error && typeof error.detail === 'string' ? error.detail : undefined,
    hint: 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined,
  }
}

/** An error's message; anything else thrown, as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
