import type { Lsn } from './lsn.js'

/** What the replication stream delivers, in WAL order, synchronously as it is read. */
export interface StreamHandlers {
  begin(commitLsn: Lsn, commitTime: number): void
  /**
   * `content` is a view into the connection's read buffer: valid only until the handler returns. Copy what
   * must outlive the call.
   */
  message(message: { transactional: boolean; lsn: Lsn; prefix: string; content: Uint8Array }): void
  commit(commitEndLsn: Lsn): void
  keepalive(walEnd: Lsn): void
}

/** Milliseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const POSTGRES_EPOCH_MS = 946_684_800_000

/**
 * Decode one CopyData message of a logical replication session with pgoutput (proto_version 1,
 * `messages 'true'`) straight from its bytes: XLogData (`w`) carrying BEGIN, MESSAGE or COMMIT, and the
 * primary keepalive (`k`). Positions are read as 64-bit numbers, never formatted and parsed back.
 * Everything else pgoutput sends (relations, types, origins, row changes: the publication has no tables)
 * is ignored. Returns whether the server asked for a reply right away (keepalive with the reply flag).
 */
export function decodeCopyData(chunk: Buffer, handlers: StreamHandlers): boolean {
  const kind = chunk[0]
  if (kind === 0x6b /* k */) {
    handlers.keepalive(chunk.readBigUInt64BE(1))
    return chunk[17] === 1
  }
  if (kind !== 0x77 /* w */) throw new Error(`unexpected replication message type 0x${kind?.toString(16)}`)
  // XLogData: 'w', start LSN, WAL end, send time (8 bytes each), then one pgoutput message.
  const at = 25
  switch (chunk[at]) {
    case 0x42 /* B: final LSN, commit time (µs since 2000), xid */:
      handlers.begin(chunk.readBigUInt64BE(at + 1), postgresTimeMs(chunk, at + 9))
      break
    case 0x4d /* M: flags, LSN, prefix\0, length, content */:
      {
        const transactional = (chunk[at + 1] ?? 0) & 1
        const lsn = chunk.readBigUInt64BE(at + 2)
        const prefixEnd = chunk.indexOf(0, at + 10)
        if (prefixEnd < 0) throw new Error('a pgoutput message without the end of its prefix')
        const prefix = chunk.toString('utf8', at + 10, prefixEnd)
        const length = chunk.readUInt32BE(prefixEnd + 1)
        const start = prefixEnd + 5
        handlers.message({
          transactional: transactional === 1,
          lsn,
          prefix,
          content: chunk.subarray(start, start + length),
        })
        break
      }
    case 0x43 /* C: flags, commit LSN, end LSN, commit time */:
      handlers.commit(chunk.readBigUInt64BE(at + 10))
      break
    default:
      break
  }
  return false
}

function postgresTimeMs(chunk: Buffer, offset: number): number {
  return Number(chunk.readBigInt64BE(offset) / 1000n) + POSTGRES_EPOCH_MS
}

/**
 * A standby status update (`r`) reporting `position` as written, flushed and applied. The server treats
 * every transaction whose commit record starts before `position` as done, so it must be exactly a
 * confirmable position (see confirmations.ts). `replyRequested` asks the server to answer with a keepalive
 * at once, which proves the connection is alive.
 */
export function standbyStatusUpdate(position: Lsn, replyRequested = false, now = Date.now()): Buffer {
  const update = Buffer.alloc(34)
  update[0] = 0x72
  update.writeBigUInt64BE(position, 1)
  update.writeBigUInt64BE(position, 9)
  update.writeBigUInt64BE(position, 17)
  update.writeBigInt64BE(BigInt(now - POSTGRES_EPOCH_MS) * 1000n, 25)
  update[33] = replyRequested ? 1 : 0
  return update
}
