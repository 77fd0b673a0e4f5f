import { describe, expect, test } from 'vitest'
import { Confirmations } from '../src/wal/confirmations.js'
import { formatLsn, parseLsn } from '../src/wal/lsn.js'

// Pure logic: which position may be confirmed. The end-to-end proofs against PostgreSQL and Kafka are in
// relay-*.test.ts.
describe('Confirmations', () => {
  test('confirms exactly a commit end once all its facts are acknowledged', () => {
    const confirmations = new Confirmations(100n)
    confirmations.begin(0)
    const a = confirmations.fact()
    const b = confirmations.fact()
    confirmations.commit(200n)
    expect(confirmations.position).toBe(100n)
    confirmations.acknowledge(a)
    expect(confirmations.position).toBe(100n)
    confirmations.acknowledge(b)
    expect(confirmations.position).toBe(200n)
  })

  test('never passes an unacknowledged fact when acknowledgements arrive out of order', () => {
    const confirmations = new Confirmations(0n)
    confirmations.begin(0)
    const first = confirmations.fact()
    confirmations.commit(10n)
    confirmations.begin(0)
    const second = confirmations.fact()
    confirmations.commit(20n)
    confirmations.begin(0)
    const third = confirmations.fact()
    confirmations.commit(30n)
    confirmations.acknowledge(third)
    confirmations.acknowledge(second)
    expect(confirmations.position).toBe(0n)
    confirmations.acknowledge(first)
    expect(confirmations.position).toBe(30n)
  })

  test('a transaction without facts is confirmable at its commit once earlier ones are', () => {
    const confirmations = new Confirmations(0n)
    confirmations.begin(0)
    const fact = confirmations.fact()
    confirmations.commit(10n)
    confirmations.begin(0)
    confirmations.commit(20n)
    expect(confirmations.position).toBe(0n)
    confirmations.acknowledge(fact)
    expect(confirmations.position).toBe(20n)
  })

  test('a keepalive is confirmed only when nothing is open or unacknowledged', () => {
    const confirmations = new Confirmations(0n)
    confirmations.keepalive(50n)
    expect(confirmations.position).toBe(50n)
    confirmations.begin(0)
    confirmations.keepalive(60n)
    expect(confirmations.position).toBe(50n)
    const fact = confirmations.fact()
    confirmations.commit(70n)
    confirmations.keepalive(80n)
    expect(confirmations.position).toBe(50n)
    confirmations.acknowledge(fact)
    expect(confirmations.position).toBe(70n)
    confirmations.keepalive(80n)
    expect(confirmations.position).toBe(80n)
  })

  test('never moves backwards', () => {
    const confirmations = new Confirmations(100n)
    confirmations.keepalive(90n)
    confirmations.begin(0)
    confirmations.commit(95n)
    expect(confirmations.position).toBe(100n)
  })

  test('a non-transactional message holds confirmation at its own position until acknowledged', () => {
    const confirmations = new Confirmations(0n)
    const standalone = confirmations.standalone(40n, 0)
    confirmations.begin(0)
    confirmations.commit(50n)
    expect(confirmations.position).toBe(0n)
    confirmations.acknowledge(standalone)
    expect(confirmations.position).toBe(50n)
  })

  test('reports the oldest unconfirmed commit time and the unacknowledged count', () => {
    const confirmations = new Confirmations(0n)
    expect(confirmations.oldestUnconfirmedCommitTime).toBeUndefined()
    confirmations.begin(1_000)
    const fact = confirmations.fact()
    confirmations.commit(10n)
    confirmations.begin(2_000)
    confirmations.fact()
    expect(confirmations.oldestUnconfirmedCommitTime).toBe(1_000)
    expect(confirmations.unacknowledged).toBe(2)
    confirmations.acknowledge(fact)
    expect(confirmations.oldestUnconfirmedCommitTime).toBe(2_000)
  })

  test('keeps its place through long queues (compaction) and reports the oldest unconfirmed commit', () => {
    const confirmations = new Confirmations(0n)
    const transactions = Array.from({ length: 5_000 }, (_, n) => {
      confirmations.begin(n)
      const fact = confirmations.fact()
      confirmations.commit(BigInt(n + 1) * 8n)
      return fact
    })
    for (const [n, fact] of transactions.slice(0, 3_000).entries()) {
      confirmations.acknowledge(fact)
      expect(confirmations.position).toBe(BigInt(n + 1) * 8n)
    }
    expect(confirmations.oldestUnconfirmedCommitTime).toBe(3_000)
    expect(confirmations.unacknowledged).toBe(2_000)
    confirmations.keepalive(1_000_000n)
    expect(confirmations.position).toBe(3_000n * 8n)
    for (const fact of transactions.slice(3_000).reverse()) confirmations.acknowledge(fact)
    expect(confirmations.position).toBe(5_000n * 8n)
    expect(confirmations.oldestUnconfirmedCommitTime).toBeUndefined()
    confirmations.keepalive(1_000_000n)
    expect(confirmations.position).toBe(1_000_000n)
  })

  test('stream protocol violations and double acknowledgements throw', () => {
    const confirmations = new Confirmations(0n)
    expect(() => confirmations.fact()).toThrow(/outside BEGIN/)
    expect(() => confirmations.commit(1n)).toThrow(/without BEGIN/)
    confirmations.begin(0)
    expect(() => confirmations.begin(0)).toThrow(/inside an open transaction/)
    const fact = confirmations.fact()
    confirmations.commit(5n)
    confirmations.acknowledge(fact)
    expect(() => confirmations.acknowledge(fact)).toThrow(/twice/)
  })
})

describe('LSN handling', () => {
  test('compares positions as numbers, not strings', () => {
    expect(parseLsn('0/A0000000') > parseLsn('0/9FFFFFFF')).toBe(true)
    expect(parseLsn('10/0') > parseLsn('9/FFFFFFFF')).toBe(true)
    expect(parseLsn('00000001/0000000A')).toBe((1n << 32n) + 10n)
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848')
    expect(() => parseLsn('16-B374D848')).toThrow(/not a WAL position/)
  })
})
