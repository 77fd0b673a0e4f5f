import { randomBytes } from 'node:crypto'
import { createEmitter, type Fact } from '@factlib/emit'
import { encodeEnvelope } from '@factlib/emit/envelope'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  uniqueName,
  withClient,
} from '../../../test/harness/index.js'
import { type Consumed, readTopics } from '../../../test/harness/kafka-reader.js'
import { createWalReader } from '../../../test/harness/wal.js'
import { currentWalLsn, waitForConfirmed } from './support/slot.js'

const stops: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const stop of stops.reverse()) await stop()
})

async function relayFor(databaseUrl: string, env: Record<string, string> = {}) {
  const names = { slot: uniqueName('slot'), publication: uniqueName('pub'), dlq: uniqueName('dlq') }
  const relay = startRelayProcess({
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    FACTLIB_SLOT: names.slot,
    FACTLIB_PUBLICATION: names.publication,
    FACTLIB_DLQ_TOPIC: names.dlq,
    FACTLIB_TOPIC_PARTITIONS: '3',
    ...env,
  })
  stops.push(() => relay.stop())
  await relay.waitForLog('streaming')
  return { relay, ...names }
}

describe.skipIf(kafkaUnavailable())('the relay delivers', () => {
  test('facts of many concurrent transactions arrive exactly as emitted, in WAL order per aggregate; rolled-back ones never', async () => {
    const db = await freshDatabase()
    const wal = await createWalReader(db.url)
    const source = uniqueName('shop')
    const { slot } = await relayFor(db.url)
    const facts = createEmitter({ source })
    const committed: Fact[] = []
    const rolledBack: Fact[] = []

    // 8 clients, 20 transactions each, 1–4 facts over 12 aggregates of two types; every fifth rolls back,
    // every seventh rolls back to a savepoint after its first fact.
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        const client = new pg.Client({ connectionString: db.url })
        await client.connect()
        for (let n = 0; n < 20; n++) {
          const inputs = Array.from({ length: 1 + ((worker + n) % 4) }, (_, i) => {
            const aggregate = (worker * 7 + n * 3 + i) % 12
            const binary = (worker + n + i) % 3 === 0
            return {
              aggregateType: aggregate % 2 ? 'order' : 'customer',
              aggregateId: `a${aggregate}`,
              type: 'changed',
              metadata: { worker: String(worker), 'x-n': String(n) },
              traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
              ...(binary
                ? {
                    payload: new Uint8Array([0xff, 0x00, ...randomBytes(20)]),
                    contentType: 'application/x-test',
                  }
                : { data: { worker, n, i, text: 'grüße ✓' } }),
            }
          })
          await client.query('begin')
          const savepoint = n % 7 === 3
          const [first, ...rest] = inputs
          const emitted = [await facts.emit(client, first!)]
          if (savepoint) await client.query('savepoint s')
          if (rest.length) emitted.push(...(await facts.emit(client, rest)))
          if (savepoint) {
            await client.query('rollback to savepoint s')
            rolledBack.push(...emitted.slice(1))
            emitted.splice(1)
          }
          if (n % 5 === 4) {
            await client.query('rollback')
            rolledBack.push(...emitted)
          } else {
            await client.query('commit')
            committed.push(...emitted)
          }
        }
        await client.end()
      }),
    )

    const topics = [`${source}.order`, `${source}.customer`]
    const reader = await readTopics(kafkaBrokers(), topics)
    stops.push(reader.stop)
    await reader.until(`${committed.length} facts in Kafka`, (records) => records.length >= committed.length)

    const byId = new Map<string, Consumed>(
      reader.records.map((record) => [record.headers.ce_id ?? '', record]),
    )
    expect(reader.records).toHaveLength(committed.length)
    expect(byId.size).toBe(committed.length)
    for (const fact of rolledBack) expect(byId.has(fact.id)).toBe(false)

    const walOrder = (await wal.messages()).filter((message) => message.prefix === source)
    const commitLsn = new Map<string, string>()
    for (const message of walOrder) {
      const header = JSON.parse(message.content.subarray(0, message.content.indexOf(0x0a)).toString()) as {
        id: string
      }
      commitLsn.set(header.id, message.commitLsn ?? '')
    }
    for (const fact of committed) {
      const record = byId.get(fact.id)
      expect(record, fact.id).toBeDefined()
      if (!record) continue
      expect(record.topic).toBe(`${source}.${fact.aggregateType}`)
      expect(record.key).toBe(fact.aggregateId)
      const expected =
        fact.data === undefined
          ? Buffer.from(fact.payload as Uint8Array)
          : Buffer.from(JSON.stringify(fact.data))
      expect(record.value?.equals(expected), `value of ${fact.id}`).toBe(true)
      expect(record.headers).toEqual({
        ce_specversion: '1.0',
        ce_id: fact.id,
        ce_source: source,
        ce_type: fact.type,
        ce_time: fact.time,
        ce_aggregatetype: fact.aggregateType,
        ce_aggregateid: fact.aggregateId,
        'content-type': fact.contentType,
        traceparent: fact.traceparent,
        ...fact.metadata,
        'factlib-lsn': commitLsn.get(fact.id),
      })
    }

    // Per aggregate, the order in Kafka (one partition per key) is the order in the WAL.
    const walIds = walOrder.map(
      (message) =>
        JSON.parse(message.content.subarray(0, message.content.indexOf(0x0a)).toString()).id as string,
    )
    const aggregateOf = new Map(
      committed.map((fact) => [fact.id, `${fact.aggregateType}/${fact.aggregateId}`]),
    )
    const kafkaOrder = [...reader.records].sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    for (const aggregate of new Set(aggregateOf.values())) {
      const inWal = walIds.filter((id) => aggregateOf.get(id) === aggregate)
      const inKafka = kafkaOrder
        .map((record) => record.headers.ce_id ?? '')
        .filter((id) => aggregateOf.get(id) === aggregate)
      expect(inKafka, aggregate).toEqual(inWal)
    }
    expect(new Set(reader.records.map((record) => record.partition)).size).toBeGreaterThan(1)

    // Everything relayed gets confirmed: the slot holds no WAL for it.
    await waitForConfirmed(db.url, slot, walOrder.at(-1)?.commitEndLsn ?? '')
    await wal.drop()
  })

  test('poison messages go to the dead-letter topic with their reason and the stream continues', async () => {
    const db = await freshDatabase()
    const source = uniqueName('poison')
    // A configured source makes every message under its prefix the relay's, malformed or not.
    const { relay, dlq } = await relayFor(db.url, { FACTLIB_SOURCES: source })
    const header = {
      id: '0190b7a0-0000-7000-8000-000000000001',
      type: 't',
      aggregateType: 'thing',
      aggregateId: '1',
      time: new Date().toISOString(),
      contentType: 'text/plain',
    }
    const content = (fields: Record<string, unknown>, payload = 'x') =>
      Buffer.concat([Buffer.from(JSON.stringify(fields)), Buffer.from('\n'), Buffer.from(payload)])
    await withClient(db.url, async (client) => {
      const emit = (message: Buffer, transactional = true) =>
        client.query('select pg_logical_emit_message($1, $2, $3::bytea)', [transactional, source, message])
      await emit(Buffer.from('no newline here'))
      await emit(content({ ...header, v: 2 }))
      await emit(content({ v: 1, id: 'x' }))
      await emit(content({ ...header, v: 1, aggregateType: 'bad/type' }))
      await client.query('begin')
      await emit(Buffer.from(encodeEnvelope(header, new TextEncoder().encode('survives rollback'))), false)
      await client.query('rollback')
      await emit(
        Buffer.from(
          encodeEnvelope(
            { ...header, id: '0190b7a0-0000-7000-8000-000000000002' },
            new TextEncoder().encode('fine'),
          ),
        ),
      )
    })
    const reader = await readTopics(kafkaBrokers(), [dlq, `${source}.thing`])
    stops.push(reader.stop)
    await reader.until('5 dead letters and the good fact', (records) => records.length >= 6)
    const dead = reader.records.filter((record) => record.topic === dlq)
    expect(dead.map((record) => record.headers['factlib-reason']).sort()).toEqual(
      [
        'invalid_envelope',
        'invalid_envelope',
        'invalid_topic',
        'non_transactional',
        'unknown_version',
      ].sort(),
    )
    for (const record of dead) {
      expect(record.headers['factlib-source']).toBe(source)
      expect(record.headers['factlib-lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(record.headers['factlib-error']).toMatch(/^\w+: .+/)
    }
    expect(
      dead.find((record) => record.headers['factlib-reason'] === 'unknown_version')?.value?.toString(),
    ).toContain('"v":2')
    const good = reader.records.filter((record) => record.topic === `${source}.thing`)
    expect(good.map((record) => record.value?.toString())).toEqual(['fine'])
    const metrics = await relay.get('/metrics')
    expect(metrics.body).toMatch(/factlib_dead_lettered_total\{reason="invalid_envelope"\} 2/)
    expect(metrics.body).toMatch(new RegExp(`factlib_facts_relayed_total\\{source="${source}"\\} 1`))
  })

  test('facts of sources it is not configured for are skipped, and still confirmed', async () => {
    const db = await freshDatabase()
    const wanted = uniqueName('wanted')
    const other = uniqueName('other')
    const { relay, slot } = await relayFor(db.url, { FACTLIB_SOURCES: wanted })
    await withClient(db.url, async (client) => {
      await createEmitter({ source: other }).emit(client, {
        aggregateType: 'x',
        aggregateId: '1',
        type: 't',
        data: 1,
      })
      await createEmitter({ source: wanted }).emit(client, {
        aggregateType: 'x',
        aggregateId: '1',
        type: 't',
        data: 2,
      })
      await createEmitter({ source: other }).emit(client, {
        aggregateType: 'x',
        aggregateId: '1',
        type: 't',
        data: 3,
      })
    })
    const end = await currentWalLsn(db.url)
    const reader = await readTopics(kafkaBrokers(), [`${wanted}.x`])
    stops.push(reader.stop)
    await reader.until('the wanted fact', (records) => records.length >= 1)
    // Confirmed past the skipped fact emitted last: nothing is held for a source we do not relay.
    await waitForConfirmed(db.url, slot, end)
    expect(reader.records.map((record) => record.value?.toString())).toEqual(['2'])
    expect((await relay.get('/metrics')).body).not.toContain(`source="${other}"`)
  })
})
