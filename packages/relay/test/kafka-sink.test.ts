import { freePort } from '@factlib/dev/embedded-postgres'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { kafkaBrokers, kafkaUnavailable, uniqueName } from '../../../test/harness/index.js'
import { readTopic, valuesByKey, valueText } from '../../../test/harness/kafka-reader.js'
import type { DeadLetterReason } from '../src/pipeline/record.js'
import { KafkaSink, type KafkaSinkOptions } from '../src/sinks/kafka/kafka-sink.js'
import type { SinkRecord } from '../src/sinks/sink.js'
import { collectingLogger, fact, plainConfig } from './support/sink.js'

// Partitions the Java client (org.apache.kafka.common.utils.Utils.murmur2, kafka-clients 3.9.2) gives these
// keys on a 6-partition topic, computed once with the broker's own jars.
const JAVA_PARTITION_OF_6: Record<string, number> = {
  'order-1': 4,
  'order-2': 3,
  'order-3': 3,
  'user-42': 4,
  'aggregate-α': 1,
  '21': 0,
  foobar: 0,
  x: 4,
}

describe.skipIf(kafkaUnavailable())('KafkaSink on the shared broker', () => {
  const brokers = kafkaBrokers()
  const sinks: KafkaSink[] = []
  const admin = new Kafka({ clientId: 'factlib-sink-test', brokers, logLevel: logLevel.NOTHING }).admin()
  beforeAll(() => admin.connect())
  afterAll(async () => {
    for (const sink of sinks) await sink.close()
    await admin.disconnect()
  })

  const startSink = async (options: Partial<KafkaSinkOptions> = {}) => {
    const sink = new KafkaSink(plainConfig(brokers), {
      dlqTopic: uniqueName('dlq'),
      topicPartitions: 3,
      ...options,
    })
    sinks.push(sink)
    await sink.start()
    return sink
  }

  test('delivers topic, key, value bytes and headers exactly, creating missing topics with the configured partitions', async () => {
    const sink = await startSink({ topicPartitions: 4 })
    expect(sink.readiness()).toEqual({ ready: true })
    const [first, second] = [uniqueName('exact'), uniqueName('exact')]
    const binary = new Uint8Array([0, 255, 10, 0xc3, 0x28, 0x80, 1])
    const records = [
      fact(first, 'aggregate-α', binary, {
        ce_type: 'bytes.sent',
        traceparent: '00-abc-def-01',
        'x-tenant': 'zürich',
      }),
      fact(second, 'k2', '{"json":true}', { 'content-type': 'application/json' }),
      fact(first, 'aggregate-α', new Uint8Array(0)),
    ]
    await sink.send(records, new AbortController().signal)

    const metadata = await admin.fetchTopicMetadata({ topics: [first, second] })
    expect(metadata.topics.map((topic) => topic.partitions.length)).toEqual([4, 4])
    const got = [...(await readTopic(brokers, first)), ...(await readTopic(brokers, second))]
    expect(
      got.map((record) => ({
        topic: record.topic,
        key: record.key,
        value: new Uint8Array(record.value ?? []),
        headers: record.headers,
      })),
    ).toEqual(records.sort((a, b) => (a.topic === b.topic ? 0 : a.topic === first ? -1 : 1)))
  })

  test('keeps per-key order across batches and requests, partitioning keys like the Java client', async () => {
    // Small requests, so that each batch takes several round trips.
    const sink = await startSink({ topicPartitions: 6, maxRequestBytes: 2_000 })
    const topic = uniqueName('order')
    const keys = Object.keys(JAVA_PARTITION_OF_6)
    const batches: SinkRecord[][] = [0, 1, 2].map((batch) =>
      Array.from({ length: 120 }, (_, index) => {
        const key = keys[index % keys.length] as string
        return fact(topic, key, `${key}#${batch * 1000 + index}`)
      }),
    )
    // Sent without waiting: the sink must still deliver them one after the other.
    await Promise.all(batches.map((batch) => sink.send(batch, new AbortController().signal)))

    const got = await readTopic(brokers, topic)
    expect(got).toHaveLength(360)
    for (const record of got) expect(record.partition).toBe(JAVA_PARTITION_OF_6[record.key as string])
    const expected = new Map<string | null, string[]>()
    for (const record of batches.flat())
      expected.set(record.key, [...(expected.get(record.key) ?? []), textOf(record)])
    expect(valuesByKey(got)).toEqual(expected)
  })

  test('dead-letters records whose topic Kafka can never accept and delivers the rest in order', async () => {
    const deadLettered: DeadLetterReason[] = []
    const dlqTopic = uniqueName('dlq')
    const sink = await startSink({ dlqTopic })
    const good = uniqueName('good')
    // Kafka refuses a name that collides with an existing topic once "." and "_" are treated alike.
    const existing = `${uniqueName('coll')}.x`
    await admin.createTopics({ topics: [{ topic: existing, numPartitions: 1 }] })
    const colliding = existing.replace('.x', '_x')
    const records = [
      fact(good, 'k', 'one'),
      fact('not a topic!', 'k', 'lost-1', { ce_source: 'billing', 'factlib-lsn': '1/A' }),
      fact(good, 'k', 'two'),
      fact(colliding, 'k', 'lost-2', { 'factlib-lsn': '1/B' }),
      fact(good, 'k', 'three'),
    ]
    const result = await sink.send(records, new AbortController().signal)
    deadLettered.push(...result.deadLettered.values())
    expect([...result.deadLettered.keys()]).toEqual([records[1], records[3]])

    expect((await readTopic(brokers, good)).map(valueText)).toEqual(['one', 'two', 'three'])
    const letters = await readTopic(brokers, dlqTopic)
    expect(letters.map(valueText)).toEqual(['lost-1', 'lost-2'])
    const [local, broker] = letters
    expect(local?.key).toBe('k')
    expect(local?.headers).toMatchObject({
      'factlib-reason': 'invalid_topic',
      'factlib-lsn': '1/A',
      'factlib-source': 'billing',
      'factlib-topic': 'not a topic!',
      ce_id: records[1]?.headers.ce_id,
    })
    expect(local?.headers['factlib-error']).toMatch(/^invalid_topic: .*characters Kafka does not allow/)
    expect(broker?.headers).toMatchObject({
      'factlib-reason': 'invalid_topic',
      'factlib-lsn': '1/B',
      'factlib-topic': colliding,
    })
    expect(broker?.headers['factlib-error']).toMatch(
      /^invalid_topic: the broker rejected topic .*INVALID_TOPIC_EXCEPTION/,
    )
    expect(deadLettered).toEqual(['invalid_topic', 'invalid_topic'])
    expect((await admin.fetchTopicMetadata({ topics: [dlqTopic] })).topics[0]?.partitions).toHaveLength(3)
  })

  test('a record over maxRecordBytes is dead-lettered without being sent', async () => {
    const deadLettered: DeadLetterReason[] = []
    const dlqTopic = uniqueName('dlq')
    const sink = await startSink({
      dlqTopic,
      maxRecordBytes: 500,
    })
    const topic = uniqueName('capped')
    const result = await sink.send(
      [fact(topic, 'k', 'small'), fact(topic, 'k', 'L'.repeat(600))],
      new AbortController().signal,
    )
    deadLettered.push(...result.deadLettered.values())
    expect((await readTopic(brokers, topic)).map(valueText)).toEqual(['small'])
    const letters = await readTopic(brokers, dlqTopic)
    expect(
      letters.map((letter) => [
        letter.headers['factlib-reason'],
        letter.headers['factlib-value-bytes'],
        letter.value?.length,
      ]),
    ).toEqual([['too_large', '600', 0]])
    expect(deadLettered).toEqual(['too_large'])
  })

  test("start() fails within its deadline with KAFKA_UNREACHABLE, naming the broker, never the password; the client's failures are logged as JSON", async () => {
    const port = await freePort()
    const { logger, lines } = collectingLogger()
    const sink = new KafkaSink(
      plainConfig([`127.0.0.1:${port}`], { sasl: 'plain', username: 'relay', password: 'hunter2-secret' }),
      { dlqTopic: 'dlq', topicPartitions: 1, log: logger, startTimeoutMs: 1_500 },
    )
    const started = Date.now()
    const error = await sink.start().then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(error).toMatchObject({ name: 'FactlibError', code: 'KAFKA_UNREACHABLE' })
    const message = (error as Error).message
    expect(message).toContain(`127.0.0.1:${port}`)
    expect(message).toContain('KAFKA_BROKERS')
    expect(message).not.toContain('hunter2')
    expect(
      lines.some(
        (line) =>
          line.fields.component === 'kafka-sink' &&
          line.level === 'warn' &&
          String(line.fields.error).includes('ECONNREFUSED'),
      ),
    ).toBe(true)
    expect(JSON.stringify(lines)).not.toContain('hunter2')
    expect(sink.readiness()).toMatchObject({ ready: false })
  })

  test('an already aborted signal rejects with its reason and sends nothing', async () => {
    const sink = await startSink()
    const topic = uniqueName('aborted')
    const controller = new AbortController()
    controller.abort()
    await expect(sink.send([fact(topic, 'k', 'v')], controller.signal)).rejects.toMatchObject({
      name: 'AbortError',
    })
    const { topics } = await admin.listTopics().then((names) => ({ topics: names }))
    expect(topics).not.toContain(topic)
  })
})

function textOf(record: SinkRecord): string {
  return new TextDecoder().decode(record.value)
}
