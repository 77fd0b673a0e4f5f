import { randomBytes } from 'node:crypto'

/**
 * A name no other test uses: `<prefix>_<10 random lowercase chars>`. Valid as a PostgreSQL identifier
 * (slot, publication, database) and as a Kafka topic name.
 */
export function uniqueName(prefix = 't'): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const suffix = [...randomBytes(10)].map((byte) => alphabet[byte % alphabet.length]).join('')
  return `${prefix}_${suffix}`
}
