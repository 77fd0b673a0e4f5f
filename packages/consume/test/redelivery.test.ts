import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import { kafkaBrokers, kafkaUnavailable, uniqueName, waitFor } from '../../../test/harness/index.js'
import { createTopics, totalRecords } from '../../../test/harness/kafka-reader.js'
import { createInbox } from '../src/index.js'
import { kafkaHandler } from '../src/lambda.js'
import {
  confirmationHold,
  consumerDatabase,
  effects,
  emitFacts,
  expectAggregateOrder,
  inboxEffect,
  inboxRows,
  interleaved,
  mskEvent,
  readRaw,
} from './support/relay-facts.js'

describe.skipIf(kafkaUnavailable())('redelivery after a relay crash', () => {
  test('kill -9 before the relay confirmed: its successor sends the window again, every effect still happens once', async () => {
    const { db, client } = await consumerDatabase()
    const source = uniqueName('crash')
    const topic = `${source}.item`
    await createTopics(kafkaBrokers(), [topic], 3)
    // The relay reaches PostgreSQL through a proxy that will hold back its confirmations.
    const proxy = await confirmationHold(Number(new URL(db.url).port))
    const viaProxy = new URL(db.url)
    viaProxy.port = String(proxy.port)
    const env = relayEnv(viaProxy.toString())
    const first = startRelayProcess(env)
    await first.waitForLog('streaming')
    proxy.hold()
    const emitted = await emitFacts(db.url, source, interleaved(20, 5))
    await waitFor(
      'the first relay to publish every fact',
      async () => (await totalRecords(kafkaBrokers(), topic)) >= 20,
      {
        timeoutMs: 30_000,
      },
    )
    first.kill('SIGKILL')
    await first.exited
    await proxy.close()

    const second = startRelayProcess({ ...env, DATABASE_URL: db.url })
    await waitFor(
      'the second relay to send the unconfirmed window again',
      async () => (await totalRecords(kafkaBrokers(), topic)) >= 40,
      {
        timeoutMs: 30_000,
      },
    )
    expect(await second.stop()).toBe(0)
    const raw = await readRaw(topic)
    const ids = raw.map((record) => record.message.headers?.ce_id?.toString() ?? '')
    expect(ids).toHaveLength(40)
    expect(new Set(ids).size).toBe(20)

    // One batch holding both copies, then the same batch again.
    const handler = kafkaHandler(inboxEffect(client, createInbox({ consumer: 'a' }), new Set()))
    expect(await handler(mskEvent(raw))).toEqual({ batchItemFailures: [] })
    expect(await handler(mskEvent(raw))).toEqual({ batchItemFailures: [] })
    const order = await effects(client)
    expect(order).toHaveLength(20)
    expect(new Set(order.map((row) => row.factId))).toEqual(new Set(emitted.map((fact) => fact.id)))
    expect(await inboxRows(client, 'a')).toBe(20)
    expectAggregateOrder(order, emitted)
    await client.end()
  })
})
