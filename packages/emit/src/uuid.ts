const HEX = Array.from({ length: 256 }, (_, byte) => (byte < 16 ? '0' : '') + byte.toString(16))

/** Lowercase hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += HEX[byte]
  return text
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0')

/**
 * A UUIDv7 generator (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter seeded at random each
 * millisecond (method 1), then 62 random bits. Ids from one generator sort in the order they were made,
 * even within a millisecond or when the clock steps back.
 */
export function uuidv7(): (ms: number) => string {
  let last = -1
  let counter = 0
  // Random numbers are drawn 256 ids at a time: one getRandomValues call costs as much as many ids.
  const pool = new Uint16Array(5 * 256)
  let used = pool.length
  return (ms) => {
    if (used === pool.length) {
      crypto.getRandomValues(pool)
      used = 0
    }
    const random = pool.subarray(used, used + 5)
    used += 5
    if (ms > last) {
      last = ms
      // Seeded below 0x800 so a burst within one millisecond has room to count up.
      counter = random[0]! >> 5
    } else if (++counter > 0xfff) {
      last++
      counter = 0
    }
    const time = last.toString(16).padStart(12, '0')
    return `${time.slice(0, 8)}-${time.slice(8)}-${hex4(0x7000 | counter)}-${hex4(0x8000 | (random[1]! & 0x3fff))}-${hex4(random[2]!)}${hex4(random[3]!)}${hex4(random[4]!)}`
  }
}
