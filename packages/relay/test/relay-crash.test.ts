import { randomInt } from 'node:crypto'
import { createEmitter } from '@factlib/emit'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase, kafkaBrokers, kafkaUnavailable, uniqueName } from '../../../test/harness/index.js'
import { createTopics, readTopics } from '../../../test/harness/kafka-reader.js'
import { createWalReader } from '../../../test/harness/wal.js'

const CRASHES = 20
const MAX_INFLIGHT_BYTES = 1024 * 1024

describe.skipIf(kafkaUnavailable())('crashes', () => {
  test(`kill -9 at random points ${CRASHES} times while facts flow: nothing lost, order per aggregate kept`, async () => {
    const db = await freshDatabase()
    const wal = await createWalReader(db.url)
    const source = uniqueName('crash')
    const topic = `${source}.item`
    await createTopics(kafkaBrokers(), [topic], 3)
    const reader = await readTopics(kafkaBrokers(), [topic])
    const env = relayEnv(db.url, { FACTLIB_MAX_INFLIGHT_BYTES: String(MAX_INFLIGHT_BYTES) })

    // The relay creates the slot: facts committed before it exists are not its to relay.
    const firstRelay = startRelayProcess(env)
    await firstRelay.waitForLog('streaming')

    // Writers commit (and sometimes roll back) facts for 40 aggregates until told to stop.
    const facts = createEmitter({ source })
    const committed = new Set<string>()
    const rolledBack = new Set<string>()
    let writing = true
    const writers = Array.from({ length: 2 }, async () => {
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      while (writing) {
        await client.query('begin')
        const emitted = await facts.emit(
          client,
          Array.from({ length: randomInt(1, 6) }, () => ({
            aggregateType: 'item',
            aggregateId: `i${randomInt(40)}`,
            type: 'changed',
            data: { at: Date.now() },
          })),
        )
        const rollback = randomInt(10) === 0
        await client.query(rollback ? 'rollback' : 'commit')
        for (const fact of emitted) (rollback ? rolledBack : committed).add(fact.id)
      }
      await client.end()
    })

    for (let crash = 0; crash < CRASHES; crash++) {
      const relay = crash === 0 ? firstRelay : startRelayProcess(env)
      await relay.waitForLog('streaming')
      const seen = reader.records.length
      const more = randomInt(1, 400)
      await reader.until(
        `${more} more facts before crash ${crash + 1}`,
        (records) => records.length >= seen + more,
      )
      relay.kill('SIGKILL')
      await relay.exited
    }
    writing = false
    await Promise.all(writers)

    const last = startRelayProcess(env)
    await reader.until(
      `all ${committed.size} committed facts`,
      (records) => new Set(records.map((record) => record.headers.ce_id)).size >= committed.size,
      120_000,
    )
    expect(await last.stop()).toBe(0)
    await reader.stop()

    const ids = reader.records.map((record) => record.headers.ce_id ?? '')
    const unique = new Set(ids)
    for (const id of committed) expect(unique.has(id), `committed fact ${id}`).toBe(true)
    for (const id of rolledBack) expect(unique.has(id), `rolled-back fact ${id}`).toBe(false)
    expect(unique.size).toBe(committed.size)

    // After deduplication by ce_id, each aggregate's facts are in WAL order.
    const walIds = (await wal.messages())
      .filter((message) => message.prefix === source)
      .map(
        (message) =>
          JSON.parse(message.content.subarray(0, message.content.indexOf(0x0a)).toString()).id as string,
      )
    await wal.drop()
    const aggregateOf = new Map(
      reader.records.map((record) => [record.headers.ce_id ?? '', record.key ?? '']),
    )
    const firstSeen = [
      ...new Set(
        [...reader.records]
          .sort((a, b) => a.partition - b.partition || a.offset - b.offset)
          .map((record) => record.headers.ce_id ?? ''),
      ),
    ]
    for (const aggregate of new Set(aggregateOf.values()))
      expect(
        firstSeen.filter((id) => aggregateOf.get(id) === aggregate),
        `order of aggregate ${aggregate}`,
      ).toEqual(walIds.filter((id) => aggregateOf.get(id) === aggregate))

    // Duplicates come only from what was in flight at each crash: at most the in-flight bound per crash.
    const duplicates = ids.length - unique.size
    // The relay counts a record's value, key, topic and headers against FACTLIB_MAX_INFLIGHT_BYTES.
    const size = (record: (typeof reader.records)[number]) =>
      (record.value?.length ?? 0) +
      (record.key?.length ?? 0) +
      record.topic.length +
      Object.entries(record.headers).reduce((sum, [name, value]) => sum + name.length + value.length, 0)
    const smallestRecord = reader.records.reduce((min, record) => Math.min(min, size(record)), Infinity)
    console.info(`${committed.size} facts, ${CRASHES} crashes, ${duplicates} duplicates`)
    expect(duplicates).toBeLessThanOrEqual(CRASHES * Math.ceil(MAX_INFLIGHT_BYTES / smallestRecord))
  }, 300_000)
})
