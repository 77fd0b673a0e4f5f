import { FactlibError } from './errors.js'

/** The error an adapter throws when given a driver's root client instead of a transaction. */
export function notInTransaction(driver: string, how: string): FactlibError {
  return new FactlibError(
    'CONSUME_NOT_IN_TRANSACTION',
    `${driver}: pass the transaction (${how}), not the client: its queries may run outside your transaction`,
  )
}
