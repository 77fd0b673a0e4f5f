import { createEmitter } from '@factlib/emit'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase, kafkaBrokers, kafkaUnavailable, uniqueName } from '../../../test/harness/index.js'
import { createTopics, readTopics, totalRecords } from '../../../test/harness/kafka-reader.js'
import { formatLsn, parseLsn } from '../src/wal/lsn.js'
import { confirmedFlush } from './support/slot.js'

describe.skipIf(kafkaUnavailable())('graceful shutdown', () => {
  test('SIGTERM under load exits 0 in time, and a restart delivers everything without a gap', async () => {
    const db = await freshDatabase()
    const source = uniqueName('term')
    const topic = `${source}.x`
    await createTopics(kafkaBrokers(), [topic])
    const reader = await readTopics(kafkaBrokers(), [topic])
    const env = relayEnv(db.url, { FACTLIB_SHUTDOWN_TIMEOUT: '10' })
    // The relay creates the slot: facts committed before it exists are not its to relay.
    const first = startRelayProcess(env)
    await first.waitForLog('streaming')
    const facts = createEmitter({ source })
    const committed: string[] = []
    let writing = true
    const writer = (async () => {
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      for (let n = 0; writing; n++) {
        const emitted = await facts.emit(client, [
          { aggregateType: 'x', aggregateId: `k${n % 7}`, type: 't', data: n },
          { aggregateType: 'x', aggregateId: `k${(n + 3) % 7}`, type: 't', data: n },
        ])
        committed.push(...emitted.map((fact) => fact.id))
      }
      await client.end()
    })()

    await reader.until('facts flowing', (records) => records.length >= 500)
    const signalledAt = Date.now()
    first.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    const took = Date.now() - signalledAt
    console.info(`SIGTERM under load: exited 0 after ${took} ms`)
    expect(took).toBeLessThan(10_000)
    const stopped = first.logs.find((log) => log.msg === 'relay stopped')
    expect(stopped?.exitCode).toBe(0)
    // What it delivered before exiting, it also confirmed: every record in Kafka now (up to the high
    // watermarks) committed before the confirmed position.
    const confirmed = parseLsn((await confirmedFlush(db.url, env.FACTLIB_SLOT)) ?? '0/0')
    expect(stopped?.confirmed).toBe(formatLsn(confirmed))
    const inKafka = await totalRecords(kafkaBrokers(), topic)
    await reader.until(
      `the ${inKafka} records delivered before the exit`,
      (records) => records.length >= inKafka,
    )
    const lastCommit = reader.records.slice(0, inKafka).reduce((max, record) => {
      const lsn = parseLsn(record.headers['factlib-lsn'] ?? '0/0')
      return lsn > max ? lsn : max
    }, 0n)
    expect(
      lastCommit < confirmed,
      `last delivered commit ${formatLsn(lastCommit)} < confirmed ${formatLsn(confirmed)}`,
    ).toBe(true)

    const second = startRelayProcess(env)
    await second.waitForLog('streaming')
    writing = false
    await writer
    await reader.until(
      `all ${committed.length} facts`,
      (records) => new Set(records.map((record) => record.headers.ce_id)).size >= committed.length,
      40_000,
    )

    const seen = new Set(reader.records.map((record) => record.headers.ce_id))
    expect(committed.filter((id) => !seen.has(id))).toEqual([])
    expect(await second.stop()).toBe(0)
    await reader.stop()
  })
})
