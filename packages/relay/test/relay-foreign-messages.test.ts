import { createEmitter } from '@factlib/emit'
import { Kafka, logLevel } from 'kafkajs'
import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  withClient,
} from '../../../test/harness/index.js'
import { createTopics, readTopics, totalRecords } from '../../../test/harness/kafka-reader.js'
import { currentWalLsn, waitForConfirmed } from './support/slot.js'

const FACTS = 120

// Other tools share pg_logical_emit_message: Debezium's and PeerDB's heartbeats (non-transactional, their
// own prefix) and other CDC tools' transactional JSON. None of it is the relay's to publish or dead-letter.
describe.skipIf(kafkaUnavailable())("other tools' logical messages", () => {
  test.each([
    ['without FACTLIB_SOURCES (the envelope marks what is ours)', false],
    ['with FACTLIB_SOURCES', true],
  ])(
    '%s: skipped, counted and confirmed; the DLQ stays empty and every fact arrives',
    async (_, withSources) => {
      const db = await freshDatabase()
      const source = uniqueName('orders')
      const env = relayEnv(db.url, withSources ? { FACTLIB_SOURCES: source } : {})
      const relay = startRelayProcess(env)
      await relay.waitForLog('streaming')
      await createTopics(kafkaBrokers(), [`${source}.order`])

      // A Debezium-style heartbeat every 100 ms, on its own connection, for as long as facts are emitted.
      const heartbeat = new pg.Client({ connectionString: db.url })
      await heartbeat.connect()
      let beating = true
      const beats = (async () => {
        let count = 0
        while (beating && count < 600) {
          count += 1
          await heartbeat.query(`select pg_logical_emit_message(false, 'heartbeat', now()::text)`)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        return count
      })()

      const facts = createEmitter({ source })
      const ids: string[] = []
      await withClient(db.url, async (client) => {
        for (let index = 0; index < FACTS; index++) {
          await client.query('begin')
          const fact = await facts.emit(client, {
            aggregateType: 'order',
            aggregateId: `o-${index % 7}`,
            type: 'order.placed',
            data: { index },
          })
          ids.push(fact.id)
          // Another tool's transactional JSON in the same transaction, and one in a transaction of its own.
          await client.query(`select pg_logical_emit_message(true, 'othertool', '{"op":"c","n":${index}}')`)
          await client.query('commit')
          if (index % 10 === 0)
            await client.query(
              `select pg_logical_emit_message(true, 'cdc_tool', '{"after":{"id":${index}}}')`,
            )
        }
      })

      const reader = await readTopics(kafkaBrokers(), [`${source}.order`])
      await reader.until(`all ${FACTS} facts`, (records) =>
        ids.every((id) => records.some((r) => r.headers.ce_id === id)),
      )
      await reader.stop()
      beating = false
      const heartbeats = await beats
      await heartbeat.end()
      expect(heartbeats).toBeGreaterThan(1)

      // The slot keeps advancing past the last heartbeat although nothing after it is a fact.
      await withClient(db.url, (client) =>
        client.query(`select pg_logical_emit_message(false, 'heartbeat', 'last')`),
      )
      await waitForConfirmed(db.url, env.FACTLIB_SLOT, await currentWalLsn(db.url))

      // Everything the relay produced before confirming that far is in Kafka: the DLQ got nothing (the
      // relay creates the DLQ topic with its first dead letter).
      expect(await recordsIn(env.FACTLIB_DLQ_TOPIC)).toBe(0)
      const metrics = (await relay.get('/metrics')).body
      expect(metrics).toMatch(/factlib_foreign_messages_total\{prefix="heartbeat"\} \d+/)
      expect(metrics).toMatch(new RegExp(`factlib_foreign_messages_total\\{prefix="othertool"\\} ${FACTS}`))
      expect(metrics).toMatch(/factlib_foreign_messages_total\{prefix="cdc_tool"\} 12/)
      expect(metrics).toMatch(new RegExp(`factlib_facts_relayed_total\\{source="${source}"\\} ${FACTS}`))
      const skipLogs = relay.logs.filter((log) => String(log.msg).startsWith("skipping another tool's"))
      expect(skipLogs.map((log) => log.prefix).sort()).toEqual(['cdc_tool', 'heartbeat', 'othertool'])
      expect(await relay.stop()).toBe(0)
    },
  )
})

/** Records in a topic; 0 when it does not exist. */
async function recordsIn(topic: string): Promise<number> {
  const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const exists = (await admin.listTopics()).includes(topic)
  await admin.disconnect()
  return exists ? totalRecords(kafkaBrokers(), topic) : 0
}
