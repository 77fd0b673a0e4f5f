import { randomBytes } from 'node:crypto'
import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  kafkaUnavailable,
  privateKafka,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { parseLsn } from '../src/wal/lsn.js'
import { confirmedFlush } from './support/slot.js'

const MAX_INFLIGHT_BYTES = 2 * 1024 * 1024

// A broker this file can stop, and a server whose walsender gives up after 4 s without status updates:
// the outage below lasts longer, so the session survives only if status updates keep flowing while the
// relay has stopped reading.
const broker = privateKafka()
const server = privatePostgres({ settings: { wal_sender_timeout: '4s' } })

describe.skipIf(kafkaUnavailable())('Kafka unavailable', () => {
  test('the relay waits with bounded memory, confirms nothing undelivered, and resumes by itself', async () => {
    const wal = await createWalReader(server.url)
    const source = uniqueName('outage')
    const facts = createEmitter({ source })
    const env = relayEnv(server.url, {
      KAFKA_BROKERS: broker.brokers.join(','),
      FACTLIB_MAX_INFLIGHT_BYTES: String(MAX_INFLIGHT_BYTES),
    })
    const relay = startRelayProcess(env)
    await relay.waitForLog('streaming')
    const keyOf = new Map<string, string>()
    const emit = (count: number, bytes: number) =>
      withClient(server.url, async (client) => {
        const ids: string[] = []
        for (let n = 0; n < count; n++) {
          const fact = await facts.emit(client, {
            aggregateType: 'blob',
            aggregateId: `b${n % 5}`,
            type: 'stored',
            payload: randomBytes(bytes),
          })
          ids.push(fact.id)
          keyOf.set(fact.id, fact.aggregateId)
        }
        return ids
      })
    const before = await emit(20, 100)
    const reader = await readTopics(broker.brokers, [`${source}.blob`])
    await reader.until('the facts before the outage', (records) => records.length >= before.length)
    await reader.stop()

    await broker.stop()
    // 12 MiB of facts, six times the in-flight bound.
    const during = await emit(600, 20 * 1024)
    await relay.waitForLog('pausing the WAL stream: the sink is behind')
    const firstUndelivered = (await wal.messages()).find((message) =>
      message.content.includes(during[0] ?? ''),
    )
    const limit = parseLsn(firstUndelivered?.commitLsn ?? '0/0')
    expect(limit).toBeGreaterThan(0n)
    const samples: number[] = []
    // Watch the outage for longer than wal_sender_timeout: the slot stays put, memory stays bounded.
    const watchUntil = Date.now() + 9_000
    await waitFor(
      'the outage to be watched',
      async () => {
        samples.push(relay.rss())
        // Never past the commit of the first fact Kafka did not get.
        const confirmed = parseLsn((await confirmedFlush(server.url, env.FACTLIB_SLOT)) ?? '0/0')
        expect(confirmed <= limit).toBe(true)
        return Date.now() > watchUntil
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    )
    expect(relay.logs.filter((log) => log.msg === 'replication session ended; reconnecting')).toEqual([])
    const peak = Math.max(...samples)
    console.info(`relay RSS during the outage: max ${(peak / 2 ** 20).toFixed(1)} MiB`)
    expect(peak).toBeLessThan(200 * 2 ** 20)

    await broker.start()
    const after = await emit(10, 100)
    const all = [...before, ...during, ...after]
    const again = await readTopics(broker.brokers, [`${source}.blob`])
    await again.until(
      `all ${all.length} facts`,
      (records) => new Set(records.map((record) => record.headers.ce_id)).size >= all.length,
      90_000,
    )
    await relay.waitForLog('resuming the WAL stream')
    const byKey = new Map<string, string[]>()
    for (const record of [...again.records].sort(
      (a, b) => a.partition - b.partition || a.offset - b.offset,
    )) {
      const ids = byKey.get(record.key ?? '') ?? []
      if (!ids.includes(record.headers.ce_id ?? '')) ids.push(record.headers.ce_id ?? '')
      byKey.set(record.key ?? '', ids)
    }
    for (const key of ['b0', 'b1', 'b2', 'b3', 'b4'])
      expect(byKey.get(key), `order of ${key}`).toEqual(all.filter((id) => keyOf.get(id) === key))
    await again.stop()
    expect(await relay.stop()).toBe(0)
    await wal.drop()
  }, 240_000)
})
