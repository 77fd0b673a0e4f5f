import { formatLsn } from '@factlib/relay'
import { uniqueName } from './names.js'
import { withClient } from './postgres.js'

/** A `pg_logical_emit_message` record as pgoutput delivers it, with the transaction it committed in. */
export interface WalMessage {
  transactional: boolean
  /** LSN of the message record, e.g. `0/1A2B3C8`. */
  lsn: string
  prefix: string
  content: Buffer
  /** Where the enclosing transaction's commit record starts and ends; undefined for non-transactional messages. */
  commitLsn?: string
  commitEndLsn?: string
}

/** A pgoutput slot (`messages 'true'`) and its publication, read through SQL without consuming. */
export interface WalReader {
  readonly slot: string
  readonly publication: string
  /** Every message decoded so far, in WAL order. */
  messages(): Promise<WalMessage[]>
  drop(): Promise<void>
}

/**
 * Create a logical replication slot with the pgoutput plugin and a table-less publication in the database
 * at `url`, so tests can see exactly what a relay would be sent.
 */
export async function createWalReader(url: string): Promise<WalReader> {
  const slot = uniqueName('slot')
  const publication = uniqueName('pub')
  await withClient(url, async (client) => {
    await client.query(`create publication ${publication}`)
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot])
  })
  return {
    slot,
    publication,
    messages: () =>
      withClient(url, async (client) => {
        const { rows } = await client.query<{ data: Buffer }>(
          `select data from pg_logical_slot_peek_binary_changes($1, null, null,
             'proto_version', '1', 'publication_names', $2, 'messages', 'true')`,
          [slot, publication],
        )
        return parsePgoutput(rows.map((row) => row.data))
      }),
    drop: () =>
      withClient(url, async (client) => {
        await client.query('select pg_drop_replication_slot($1)', [slot])
        await client.query(`drop publication ${publication}`)
      }),
  }
}

/** Decode the pgoutput protocol messages the harness needs: Begin, Message and Commit (protocol v1). */
export function parsePgoutput(records: Buffer[]): WalMessage[] {
  const messages: WalMessage[] = []
  let open: WalMessage[] = []
  for (const record of records) {
    const tag = String.fromCharCode(record[0] ?? 0)
    if (tag === 'B') open = []
    else if (tag === 'M') {
      const transactional = ((record[1] ?? 0) & 1) === 1
      const lsn = formatLsn(record.readBigUInt64BE(2))
      const prefixEnd = record.indexOf(0, 10)
      const prefix = record.toString('utf8', 10, prefixEnd)
      const length = record.readInt32BE(prefixEnd + 1)
      const content = Buffer.from(record.subarray(prefixEnd + 5, prefixEnd + 5 + length))
      const message: WalMessage = { transactional, lsn, prefix, content }
      if (transactional) open.push(message)
      else messages.push(message)
    } else if (tag === 'C') {
      const commitLsn = formatLsn(record.readBigUInt64BE(2))
      const commitEndLsn = formatLsn(record.readBigUInt64BE(10))
      for (const message of open) messages.push({ ...message, commitLsn, commitEndLsn })
      open = []
    }
  }
  return messages
}
