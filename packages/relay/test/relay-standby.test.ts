import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'

describe.skipIf(kafkaUnavailable())('two relays on one slot', () => {
  test('one streams, the other waits as a hot standby and takes over within 10 s of the first dying', async () => {
    const db = await freshDatabase()
    const source = uniqueName('standby')
    const env = relayEnv(db.url)
    const active = startRelayProcess(env)
    await active.waitForLog('streaming')
    const standby = startRelayProcess(env)
    await standby.waitForLog('another relay holds the slot; waiting as a hot standby')
    const ready = await standby.get('/readyz')
    expect(ready.status).toBe(503)
    expect(ready.body).toContain('standby')
    expect((await active.get('/readyz')).status).toBe(200)
    expect((await standby.get('/healthz')).status).toBe(200)

    const facts = createEmitter({ source })
    const emitOne = (n: number) =>
      withClient(db.url, (client) =>
        facts.emit(client, { aggregateType: 'x', aggregateId: 'k', type: 't', data: n }),
      )
    const first = await emitOne(1)
    const reader = await readTopics(kafkaBrokers(), [`${source}.x`])
    await reader.until('the first fact', (records) => records.length >= 1)
    expect(standby.logs.some((log) => log.msg === 'streaming')).toBe(false)

    active.kill('SIGKILL')
    const killedAt = Date.now()
    await active.exited
    await standby.waitForLog('streaming', 10_000)
    const takeover = Date.now() - killedAt
    console.info(`standby took over after ${takeover} ms`)
    expect(takeover).toBeLessThan(10_000)
    const second = await emitOne(2)
    await reader.until('the fact after the takeover', (records) =>
      records.some((record) => record.headers.ce_id === second.id),
    )
    expect(reader.records.map((record) => record.headers.ce_id)).toContain(first.id)
    expect((await standby.get('/readyz')).status).toBe(200)
    await reader.stop()
    expect(await standby.stop()).toBe(0)
  })
})
