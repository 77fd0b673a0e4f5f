import { describe, expect, test } from 'vitest'
import { decodeCopyData, type StreamHandlers, standbyStatusUpdate } from '../src/wal/pgoutput.js'

const PG_EPOCH_US = 946_684_800_000_000n

function xlog(body: Buffer): Buffer {
  const header = Buffer.alloc(25)
  header[0] = 0x77
  return Buffer.concat([header, body])
}

function recorder() {
  const seen: unknown[] = []
  const handlers: StreamHandlers = {
    begin: (lsn, time) => seen.push(['begin', lsn, time]),
    message: ({ transactional, lsn, prefix, content }) =>
      seen.push(['message', transactional, lsn, prefix, Buffer.from(content).toString()]),
    commit: (lsn) => seen.push(['commit', lsn]),
    keepalive: (lsn) => seen.push(['keepalive', lsn]),
  }
  return { seen, handlers }
}

describe('pgoutput decoding', () => {
  test('BEGIN, MESSAGE and COMMIT carry 64-bit positions and the commit time', () => {
    const { seen, handlers } = recorder()
    const begin = Buffer.alloc(21)
    begin[0] = 0x42
    begin.writeBigUInt64BE(0x1_0000_00a0n, 1)
    begin.writeBigInt64BE(1_700_000_000_123_000n - PG_EPOCH_US, 9)
    decodeCopyData(xlog(begin), handlers)

    const content = Buffer.from('{"v":1}\npayload')
    const message = Buffer.alloc(1 + 1 + 8 + 4 + 4)
    message[0] = 0x4d
    message[1] = 1
    message.writeBigUInt64BE(0xffff_ffff_0000_0010n, 2)
    const prefixed = Buffer.concat([
      message.subarray(0, 10),
      Buffer.from('orders\0'),
      Buffer.alloc(4),
      content,
    ])
    prefixed.writeUInt32BE(content.length, 10 + 7)
    decodeCopyData(xlog(prefixed), handlers)

    const commit = Buffer.alloc(26)
    commit[0] = 0x43
    commit.writeBigUInt64BE(0x1_0000_00a0n, 2)
    commit.writeBigUInt64BE(0x1_0000_00d8n, 10)
    decodeCopyData(xlog(commit), handlers)

    expect(seen).toEqual([
      ['begin', 0x1_0000_00a0n, 1_700_000_000_123],
      ['message', true, 0xffff_ffff_0000_0010n, 'orders', '{"v":1}\npayload'],
      ['commit', 0x1_0000_00d8n],
    ])
  })

  test('a non-transactional message says so; relation and type records are ignored', () => {
    const { seen, handlers } = recorder()
    const message = Buffer.concat([
      Buffer.from([0x4d, 0]),
      Buffer.alloc(8),
      Buffer.from('hb\0'),
      Buffer.alloc(4),
    ])
    decodeCopyData(xlog(message), handlers)
    decodeCopyData(xlog(Buffer.from([0x52, 0, 0, 0, 1])), handlers)
    expect(seen).toEqual([['message', false, 0n, 'hb', '']])
  })

  test('a keepalive reports its WAL end and whether a reply is requested', () => {
    const { seen, handlers } = recorder()
    const keepalive = Buffer.alloc(18)
    keepalive[0] = 0x6b
    keepalive.writeBigUInt64BE(0x2_0000_0000n, 1)
    expect(decodeCopyData(keepalive, handlers)).toBe(false)
    keepalive[17] = 1
    expect(decodeCopyData(keepalive, handlers)).toBe(true)
    expect(seen).toEqual([
      ['keepalive', 0x2_0000_0000n],
      ['keepalive', 0x2_0000_0000n],
    ])
  })

  test('an unknown replication message is an error, not silence', () => {
    expect(() => decodeCopyData(Buffer.from([0x41]), recorder().handlers)).toThrow(/0x41/)
  })

  test('a standby status update reports exactly the position, not one more', () => {
    const update = standbyStatusUpdate(0x1_0000_00d8n, true, 1_700_000_000_000)
    expect(update.length).toBe(34)
    expect(String.fromCharCode(update[0] ?? 0)).toBe('r')
    for (const offset of [1, 9, 17]) expect(update.readBigUInt64BE(offset)).toBe(0x1_0000_00d8n)
    expect(update.readBigInt64BE(25)).toBe(1_700_000_000_000_000n - PG_EPOCH_US)
    expect(update[33]).toBe(1)
  })
})
