import { createEmitter } from '@factlib/emit'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  kafkaBrokers,
  kafkaUnavailable,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { createTopics, readTopics } from '../../../test/harness/kafka-reader.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { parseLsn } from '../src/wal/lsn.js'
import { confirmedFlush } from './support/slot.js'

// PostgreSQL skips, after a restart, every transaction whose commit record starts before the confirmed
// position, and the next transaction's commit record often starts exactly where the previous one ended.
// Confirming one byte too far loses it. A private server keeps other traffic from landing in between.
const server = privatePostgres()

/**
 * Run the trap until it is really set (the second transaction's commit record starts exactly at the
 * confirmed position); WAL written by the server itself in between can spoil an attempt.
 */
async function trap(
  variant: 'commit' | 'keepalive',
): Promise<{ attempts: number; trapped: number; delivered: boolean[] }> {
  const delivered: boolean[] = []
  let attempts = 0
  while (delivered.length < 2 && attempts < 8) {
    attempts += 1
    const database = uniqueName('trap')
    await withClient(server.url, (client) => client.query(`create database ${database}`))
    const url = server.url.replace(/\/postgres$/, `/${database}`)
    const wal = await createWalReader(url)
    const source = uniqueName('trap')
    const facts = createEmitter({ source })
    const env = relayEnv(url)
    const first = startRelayProcess(env)
    await first.waitForLog('streaming')
    const t2 = new pg.Client({ connectionString: url })
    await t2.connect()
    await t2.query('begin')
    const f2 = await facts.emit(t2, { aggregateType: 'x', aggregateId: '7', type: 'second', data: 2 })

    if (variant === 'commit') {
      const f1 = await withClient(url, async (t1) => {
        await t1.query('begin')
        const fact = await facts.emit(t1, { aggregateType: 'x', aggregateId: '7', type: 'first', data: 1 })
        await t1.query('commit')
        return fact
      })
      const t1End = (await wal.messages()).find((message) => message.content.includes(f1.id))?.commitEndLsn
      await waitFor(
        'the relay to confirm the first transaction',
        async () =>
          parseLsn((await confirmedFlush(url, env.FACTLIB_SLOT)) ?? '0/0') >= parseLsn(t1End ?? '0/0'),
      )
    } else {
      // T2's message is in the WAL but not yet flushed, so not yet decodable. Another session's plain write
      // commits and flushes it; pgoutput skips that empty transaction and sends a keepalive at its end,
      // which the relay confirms: T2's commit record will start right there.
      await withClient(url, (client) => client.query('create table noise as select 1 as x'))
      const flushed = await withClient(
        url,
        async (client) =>
          (await client.query<{ lsn: string }>('select pg_current_wal_flush_lsn()::text as lsn')).rows[0]
            ?.lsn,
      )
      await waitFor(
        'the relay to confirm the keepalive after the other write',
        async () =>
          parseLsn((await confirmedFlush(url, env.FACTLIB_SLOT)) ?? '0/0') >= parseLsn(flushed ?? '0/0'),
      )
    }
    // Freeze the relay so it can neither see T2 nor confirm anything more, then commit T2 and crash it.
    first.kill('SIGSTOP')
    const confirmed = await confirmedFlush(url, env.FACTLIB_SLOT)
    // WAL records start and end on 8-byte boundaries: a position one byte past a record's end (the
    // off-by-one this test is about) can never be one.
    expect(parseLsn(confirmed ?? '0/0') % 8n, `confirmed ${confirmed} is a record boundary`).toBe(0n)
    await t2.query('commit')
    await t2.end()
    first.kill('SIGKILL')
    await first.exited
    const t2Commit = (await wal.messages()).find((message) => message.content.includes(f2.id))?.commitLsn
    if (t2Commit !== confirmed) continue

    await createTopics(kafkaBrokers(), [`${source}.x`]).catch(() => {})
    const reader = await readTopics(kafkaBrokers(), [`${source}.x`])
    const second = startRelayProcess(env)
    await reader
      .until(
        'T2 to arrive after the restart',
        (records) => records.some((record) => record.headers.ce_id === f2.id),
        30_000,
      )
      .then(
        () => delivered.push(true),
        () => delivered.push(false),
      )
    if (variant === 'commit')
      expect(
        reader.records.filter((record) => record.headers.ce_type === 'first'),
        'T1 is not sent again',
      ).toHaveLength(1)
    await second.stop()
    await reader.stop()
    await wal.drop()
  }
  return { attempts, trapped: delivered.length, delivered }
}

describe.skipIf(kafkaUnavailable())('exact confirmation', () => {
  test('a transaction whose commit record starts where the confirmed commit ended arrives after a crash', async () => {
    const { trapped, delivered } = await trap('commit')
    expect(trapped, 'the trap was set at least once').toBeGreaterThanOrEqual(1)
    expect(delivered.every(Boolean)).toBe(true)
  })

  test('a transaction whose commit record starts at a confirmed keepalive position arrives after a crash', async () => {
    const { trapped, delivered } = await trap('keepalive')
    expect(trapped, 'the trap was set at least once').toBeGreaterThanOrEqual(1)
    expect(delivered.every(Boolean)).toBe(true)
  })
})
