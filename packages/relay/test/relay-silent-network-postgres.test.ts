import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'
import { startTcpProxy } from '../../../test/harness/tcp-proxy.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { parseLsn } from '../src/wal/lsn.js'
import { confirmedFlush } from './support/slot.js'

const TIMEOUT_SECONDS = 3
const database = await freshDatabase('silent')

describe.skipIf(kafkaUnavailable())('the PostgreSQL link goes silent', () => {
  test('the relay notices within FACTLIB_REPLICATION_TIMEOUT, reconnects when the path returns, and loses nothing', async () => {
    const port = Number(new URL(database.url).port)
    const proxy = await startTcpProxy(port)
    const viaProxy = new URL(database.url)
    viaProxy.port = String(proxy.port)
    const wal = await createWalReader(database.url)
    const source = uniqueName('silent')
    const env = relayEnv(viaProxy.toString(), {
      FACTLIB_SOURCES: source,
      FACTLIB_REPLICATION_TIMEOUT: String(TIMEOUT_SECONDS),
    })
    const relay = startRelayProcess(env)
    const streams = () => relay.logs.filter((log) => log.msg === 'streaming').length
    await relay.waitForLog('streaming')
    const facts = createEmitter({ source })
    const keyOf = new Map<string, string>()
    let n = 0
    // Straight to the server, never through the proxy: the application's path is not the relay's.
    const emit = (count: number) =>
      withClient(database.url, async (client) => {
        const ids: string[] = []
        for (let i = 0; i < count; i++, n++) {
          const fact = await facts.emit(client, {
            aggregateType: 'x',
            aggregateId: `k${n % 3}`,
            type: 't',
            data: n,
          })
          ids.push(fact.id)
          keyOf.set(fact.id, fact.aggregateId)
        }
        return ids
      })
    const before = await emit(6)
    const reader = await readTopics(kafkaBrokers(), [`${source}.x`])
    await reader.until('the facts before the blackhole', (records) => records.length >= before.length)

    proxy.blackhole()
    const blackholedAt = Date.now()
    const during = await emit(6)
    const firstDuring = (await wal.messages()).find((message) => message.content.includes(during[0] ?? ''))
    const limit = parseLsn(firstDuring?.commitLsn ?? '0/0')
    expect(limit).toBeGreaterThan(0n)
    const timedOut = () =>
      relay.logs.find(
        (log) => log.msg === 'replication session ended; reconnecting' && log.code === 'REPLICATION_TIMEOUT',
      )
    const confirmedSamples: bigint[] = []
    const detected = await waitFor(
      'the relay to give up on the silent connection',
      async () => {
        confirmedSamples.push(parseLsn((await confirmedFlush(database.url, env.FACTLIB_SLOT)) ?? '0/0'))
        return timedOut()
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    const detectionMs = Date.parse(String(detected.time)) - blackholedAt
    console.info(
      `PostgreSQL link blackholed: detected after ${detectionMs} ms (timeout ${TIMEOUT_SECONDS} s)`,
    )
    // Within the timeout plus the watchdog's tick and slack; not much earlier than the timeout less one
    // status interval (a third of it), the last time the server could have been heard.
    expect(detectionMs).toBeLessThanOrEqual(TIMEOUT_SECONDS * 1000 + 1_500)
    expect(detectionMs).toBeGreaterThanOrEqual((TIMEOUT_SECONDS * 1000 * 2) / 3 - 200)
    for (const confirmed of confirmedSamples) expect(confirmed <= limit).toBe(true)
    expect(streams()).toBe(1)

    proxy.resume()
    await waitFor('the relay to stream again once the path returned', () => streams() >= 2, {
      timeoutMs: 30_000,
    })
    const after = await emit(6)
    const all = [...before, ...during, ...after]
    await reader.until(`all ${all.length} facts`, (records) =>
      all.every((id) => records.some((record) => record.headers.ce_id === id)),
    )
    // Per key, in emission order after deduplication by ce_id: nothing lost, nothing reordered.
    const byKey = new Map<string, string[]>()
    for (const record of [...reader.records].sort(
      (a, b) => a.partition - b.partition || a.offset - b.offset,
    )) {
      const ids = byKey.get(record.key ?? '') ?? []
      if (!ids.includes(record.headers.ce_id ?? '')) ids.push(record.headers.ce_id ?? '')
      byKey.set(record.key ?? '', ids)
    }
    for (const key of ['k0', 'k1', 'k2'])
      expect(byKey.get(key), `order of ${key}`).toEqual(all.filter((id) => keyOf.get(id) === key))
    expect(relay.rss()).toBeLessThan(200 * 2 ** 20)
    await reader.stop()
    expect(await relay.stop()).toBe(0)
    await wal.drop()
    await proxy.close()
  }, 60_000)
})
