import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freePort,
  freshDatabase,
  kafkaUnavailable,
  privateKafka,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'
import { startTcpProxy } from '../../../test/harness/tcp-proxy.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { parseLsn } from '../src/wal/lsn.js'
import { confirmedFlush } from './support/slot.js'

const REQUEST_TIMEOUT_SECONDS = 3
const database = await freshDatabase('silent_kafka')

// The broker advertises a second listener at the proxy's port, so a client that bootstraps through the
// proxy is sent back to it for every broker connection; the test's reader uses the direct listener.
const proxiedPort = await freePort()
const proxy = await startTcpProxy(proxiedPort)
const broker = privateKafka({
  properties: {
    listeners: `PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controllerPort},PROXIED://127.0.0.1:${proxiedPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:{port},PROXIED://127.0.0.1:${proxy.port}`,
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT',
  },
})

describe.skipIf(kafkaUnavailable())('the Kafka link goes silent', () => {
  test('a produce request times out and is retried through a new connection; nothing unacknowledged is confirmed', async () => {
    const wal = await createWalReader(database.url)
    const source = uniqueName('silentk')
    const env = relayEnv(database.url, {
      KAFKA_BROKERS: `127.0.0.1:${proxy.port}`,
      KAFKA_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_SECONDS),
      FACTLIB_SOURCES: source,
    })
    const relay = startRelayProcess(env)
    await relay.waitForLog('streaming')
    const facts = createEmitter({ source })
    const keyOf = new Map<string, string>()
    let sequence = 0
    const emit = (count: number) =>
      withClient(database.url, async (client) => {
        const ids: string[] = []
        for (const _ of Array.from({ length: count })) {
          const aggregateId = `a${sequence++ % 4}`
          const { id } = await facts.emit(client, {
            aggregateType: 'y',
            aggregateId,
            type: 't',
            data: sequence,
          })
          ids.push(id)
          keyOf.set(id, aggregateId)
        }
        return ids
      })
    const before = await emit(8)
    const reader = await readTopics(broker.brokers, [`${source}.y`])
    await reader.until('the facts before the blackhole', (records) => records.length >= before.length)

    proxy.blackhole()
    const blackholedAt = Date.now()
    const during = await emit(8)
    const firstDuring = (await wal.messages()).find((message) => message.content.includes(during[0] ?? ''))
    const limit = parseLsn(firstDuring?.commitLsn ?? '0/0')
    expect(limit).toBeGreaterThan(0n)
    const failed = () => relay.logs.find((log) => log.msg === 'producing to Kafka failed; retrying')
    const confirmedSamples: bigint[] = []
    const detected = await waitFor(
      'the relay to give up on the silent broker connection',
      async () => {
        confirmedSamples.push(parseLsn((await confirmedFlush(database.url, env.FACTLIB_SLOT)) ?? '0/0'))
        return failed()
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const detectionMs = Date.parse(String(detected.time)) - blackholedAt
    console.info(
      `Kafka link blackholed: first failed attempt after ${detectionMs} ms (request timeout ${REQUEST_TIMEOUT_SECONDS} s): ${JSON.stringify(detected)}`,
    )
    // The client's request times out, and so do its own two retries on new connections, before the sink
    // sees a failure: three request timeouts, plus slack.
    expect(detectionMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_SECONDS * 1000 - 500)
    expect(detectionMs).toBeLessThanOrEqual(REQUEST_TIMEOUT_SECONDS * 1000 * 3 + 3_000)
    // Still silent after the first failure: the retries fail too, and the slot stays before the first
    // fact Kafka has not acknowledged.
    await waitFor(
      'a retry to fail as well',
      async () => {
        confirmedSamples.push(parseLsn((await confirmedFlush(database.url, env.FACTLIB_SLOT)) ?? '0/0'))
        return relay.logs.filter((log) => log.msg === 'producing to Kafka failed; retrying').length >= 2
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    for (const confirmed of confirmedSamples) expect(confirmed <= limit).toBe(true)

    proxy.resume()
    const after = await emit(8)
    const all = [...before, ...during, ...after]
    await reader.until(`all ${all.length} facts`, (records) =>
      all.every((id) => records.some((record) => record.headers.ce_id === id)),
    )
    const perKey = new Map<string, string[]>()
    for (const record of [...reader.records].sort(
      (a, b) => a.partition - b.partition || a.offset - b.offset,
    )) {
      const id = record.headers.ce_id ?? ''
      const seen = perKey.get(record.key ?? '') ?? []
      if (!seen.includes(id)) seen.push(id)
      perKey.set(record.key ?? '', seen)
    }
    for (const key of ['a0', 'a1', 'a2', 'a3'])
      expect(perKey.get(key), `order of ${key}`).toEqual(all.filter((id) => keyOf.get(id) === key))
    // The slot moves past them once Kafka acknowledged them.
    await waitFor('the slot to pass the facts of the blackhole', async () => {
      return parseLsn((await confirmedFlush(database.url, env.FACTLIB_SLOT)) ?? '0/0') > limit
    })
    await reader.stop()
    expect(await relay.stop()).toBe(0)
    await wal.drop()
    await proxy.close()
  }, 90_000)
})
