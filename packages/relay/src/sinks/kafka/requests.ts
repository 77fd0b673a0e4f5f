import { recordSize } from '../../pipeline/record.js'
import type { SinkRecord } from '../sink.js'

/** Requests are never planned smaller than this; a broker limit below it is still met by splitting. */
export const MIN_REQUEST_BYTES = 16 * 1024

/**
 * The records in order, cut into produce requests of at most `maxBytes` each; a single record larger than
 * that is a request of its own.
 */
export function planRequests(records: readonly SinkRecord[], maxBytes: number): SinkRecord[][] {
  const requests: SinkRecord[][] = []
  let current: SinkRecord[] = []
  let bytes = 0
  for (const record of records) {
    const size = recordSize(record)
    if (current.length > 0 && bytes + size > maxBytes) {
      requests.push(current)
      current = []
      bytes = 0
    }
    current.push(record)
    bytes += size
  }
  if (current.length > 0) requests.push(current)
  return requests
}

/**
 * A request the broker found too large, as two halves in order, and the request size to plan with from
 * now on: at most half of this one, never below {@link MIN_REQUEST_BYTES}.
 */
export function splitRequest(
  request: readonly SinkRecord[],
  requestBytes: number,
): { halves: [SinkRecord[], SinkRecord[]]; requestBytes: number } {
  const half = Math.ceil(request.length / 2)
  let bytes = 0
  for (const record of request) bytes += recordSize(record)
  return {
    halves: [request.slice(0, half), request.slice(half)],
    requestBytes: Math.max(MIN_REQUEST_BYTES, Math.min(requestBytes, Math.floor(bytes / 2))),
  }
}
