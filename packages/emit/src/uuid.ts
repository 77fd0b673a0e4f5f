/**
 * A UUIDv7 generator (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter (method 1), then 62 random
 * bits. Ids from one generator sort in the order they were made, even within a millisecond or when the clock
 * steps back.
 */
export function uuidv7(): (ms: number) => string {
  let last = -1
  let counter = 0
  return (ms) => {
    // The counter runs on across milliseconds, so no reseeding: when it wraps, the time moves on one
    // millisecond, which a later clock reading overtakes.
    if (++counter > 0xfff) {
      last++
      counter = 0
    }
    if (ms > last) last = ms
    const time = last.toString(16).padStart(12, '0')
    // A v4 UUID ends in what v7 needs after the counter: `-`, the variant bits and 62 random bits.
    return `${time.slice(0, 8)}-${time.slice(8)}-${(0x7000 | counter).toString(16)}${crypto.randomUUID().slice(18)}`
  }
}
