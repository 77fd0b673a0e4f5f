import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  compatibilityPartitioner,
  MultipleErrors,
  Producer,
  type ProducerInfo,
  ResponseError,
} from '@platformatic/kafka'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type KafkaBroker, kafkaUnavailable, uniqueName, waitFor } from '../../../test/harness/index.js'
import { deduplicated, readTopic, valuesByKey, valueText } from '../../../test/harness/kafka-reader.js'
import type { DeadLetterReason } from '../src/pipeline/record.js'
import { KafkaSink, type KafkaSinkOptions } from '../src/sinks/kafka/kafka-sink.js'
import type { SinkRecord } from '../src/sinks/sink.js'
import { collectingLogger, fact, plainConfig, startKafkaWithPorts } from './support/sink.js'

// A private broker that refuses record batches over 16 KiB, and that the tests stop and start.
const MESSAGE_MAX_BYTES = 16 * 1024

describe.skipIf(kafkaUnavailable())('KafkaSink against broker limits and outages', () => {
  let broker: KafkaBroker
  const sinks: KafkaSink[] = []
  beforeAll(async () => {
    ;({ broker } = await startKafkaWithPorts(0, () => ({ 'message.max.bytes': MESSAGE_MAX_BYTES })))
  })
  afterAll(async () => {
    for (const sink of sinks) await sink.close()
    await broker?.destroy()
  })

  const startSink = async (options: Partial<KafkaSinkOptions> = {}) => {
    const errors: string[] = []
    const deadLettered: DeadLetterReason[] = []
    const { logger, lines } = collectingLogger()
    const sink = new KafkaSink(plainConfig(broker.brokers), {
      dlqTopic: uniqueName('dlq'),
      topicPartitions: 3,
      log: logger,
      retry: { initialRetryTime: 50, maxRetryTime: 500 },
      onProduceError: (kind) => errors.push(kind),
      ...options,
    })
    sinks.push(sink)
    await sink.start()
    const send = async (records: SinkRecord[], signal: AbortSignal) => {
      const result = await sink.send(records, signal)
      deadLettered.push(...result.deadLettered.values())
      return result
    }
    return { sink, send, errors, deadLettered, lines }
  }
  const never = () => new AbortController().signal

  test('splits a request the broker finds too large and delivers every record once, in order', async () => {
    const { send, errors, deadLettered } = await startSink()
    const topic = uniqueName('split')
    const records = Array.from({ length: 40 }, (_, index) =>
      fact(topic, 'one-key', `${index}:${'x'.repeat(1_000)}`),
    )
    await send(records, never())

    expect(errors).toContain('message_too_large')
    expect(deadLettered).toEqual([])
    const got = await readTopic(broker.brokers, topic)
    expect(got.map(valueText)).toEqual(records.map(text))
  })

  test('dead-letters only the single record over the limit, with its origin in headers, and moves on', async () => {
    const dlqTopic = uniqueName('dlq')
    const { send, deadLettered } = await startSink({ dlqTopic })
    const topic = uniqueName('oversize')
    const big = fact(topic, 'k', 'B'.repeat(MESSAGE_MAX_BYTES + 4_000), {
      ce_source: 'billing',
      'factlib-lsn': '2/FF',
    })
    const records = [fact(topic, 'k', 's1'), fact(topic, 'k', 's2'), big, fact(topic, 'k', 's3')]
    const { deadLettered: letters } = await send(records, never())
    expect([...letters.keys()]).toEqual([big])

    expect((await readTopic(broker.brokers, topic)).map(valueText)).toEqual(['s1', 's2', 's3'])
    const [letter, ...more] = await readTopic(broker.brokers, dlqTopic)
    expect(more).toEqual([])
    expect(letter?.key).toBe('k')
    expect(letter?.value?.byteLength).toBe(0)
    expect(letter?.headers).toMatchObject({
      'factlib-reason': 'too_large',
      'factlib-lsn': '2/FF',
      'factlib-source': 'billing',
      'factlib-topic': topic,
      'factlib-value-bytes': String(MESSAGE_MAX_BYTES + 4_000),
      ce_id: big.headers.ce_id,
      ce_type: big.headers.ce_type,
    })
    expect(letter?.headers['factlib-error']).toMatch(
      /^too_large: the broker refused the record as too large \(message_too_large\)/,
    )
    expect(deadLettered).toEqual(['too_large'])
  })

  test('a request the broker refuses in part: what it appended stays, the rest goes with a new producer id, every record once, in order', async () => {
    // One request carries two partitions: A's records are appended, B's batch is too large. The client
    // gives the producer a new id after any failed send, so B's halves go out with new sequence numbers
    // (kafkajs kept the id and rolled the numbers back, which the broker refused as
    // OUT_OF_ORDER_SEQUENCE_NUMBER); A's records, acknowledged in the refusing answer, are not sent again.
    const topic = uniqueName('sequence')
    const [keyA, keyB] = twoKeysOnDifferentPartitions(3)
    const half = 'b'.repeat(MESSAGE_MAX_BYTES / 2 + 500)
    const records = [
      fact(topic, keyA, 'a1'),
      fact(topic, keyB, `b1${half}`),
      fact(topic, keyB, `b2${half}`),
      fact(topic, keyA, 'a2'),
    ]
    let errors: string[] = []
    // The first id comes with start(), the next with the first send after the refusal.
    const producerIds = await producerIdsDuring(async () => {
      const started = await startSink()
      errors = started.errors
      await started.sink.send(records, never())
    })

    expect(errors).toEqual(['message_too_large'])
    expect(new Set(producerIds).size).toBe(producerIds.length)
    expect(producerIds.length).toBeGreaterThanOrEqual(2)
    const got = await readTopic(broker.brokers, topic)
    const expected = new Map([
      [keyA, ['a1', 'a2']],
      [keyB, [`b1${half}`, `b2${half}`]],
    ])
    expect(got).toHaveLength(4)
    expect(valuesByKey(got)).toEqual(expected)
  })

  test('recreates the producer after OUT_OF_ORDER_SEQUENCE_NUMBER and resends what is unacknowledged, in order', async () => {
    // With one send outstanding the broker has no reason to refuse a sequence, and the client recovers a
    // lost producer state once by itself: the refusal comes in as the client reports it, after the first
    // half of the request really was appended.
    const { sink, errors, lines } = await startSink()
    const topic = uniqueName('sequence')
    const keys = ['k0', 'k1', 'k2', 'k3']
    const records = Array.from({ length: 24 }, (_, index) =>
      fact(topic, keys[index % 4] as string, `v${index}`),
    )
    const send = Producer.prototype.send
    const closed = vi.spyOn(Producer.prototype, 'close')
    vi.spyOn(Producer.prototype, 'send').mockImplementationOnce(async function (this: Producer, options) {
      await send.call(this, { ...options, messages: options.messages.slice(0, 10) })
      throw new MultipleErrors('Producing messages failed.', [
        new ResponseError(0, 11, { '/responses/0/partitionResponses/0': [45, null] }, {}),
      ])
    })
    try {
      await sink.send(records, never())
    } finally {
      vi.restoreAllMocks()
    }

    expect(errors).toEqual(['out_of_order_sequence_number'])
    expect(lines.some((line) => line.message.startsWith('recreating the Kafka producer'))).toBe(true)
    expect(closed).toHaveBeenCalled()
    const got = await readTopic(broker.brokers, topic)
    expect(got).toHaveLength(34)
    const expected = new Map<string | null, string[]>()
    for (const record of records)
      expected.set(record.key, [...(expected.get(record.key) ?? []), text(record)])
    expect(valuesByKey(deduplicated(got))).toEqual(expected)
    for (const [key, values] of valuesByKey(got))
      expect(firstOccurrences(values), `${key}`).toEqual(expected.get(key))
  })

  test('a retriable error on batch N while N+1 is queued: the topic deleted and made again, each key keeps its order', async () => {
    const { sink, errors } = await startSink({ maxRequestBytes: 2_000 })
    const topic = uniqueName('recreated')
    const batch = (name: string) =>
      Array.from({ length: 60 }, (_, index) => fact(topic, `k${index % 5}`, `${name}-${index}`))
    await sink.send(batch('first'), never())
    const admin = new Kafka({
      clientId: 'faults',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
    }).admin()
    await admin.connect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()

    const [n, next] = [batch('n'), batch('next')]
    // N+1 is handed over before N is acknowledged, as the pipeline does.
    await Promise.all([sink.send(n, never()), sink.send(next, never())])

    expect(errors).toContain('unknown_topic_or_partition')
    const got = await readTopic(broker.brokers, topic)
    const expected = new Map<string | null, string[]>()
    for (const record of [...n, ...next])
      expected.set(record.key, [...(expected.get(record.key) ?? []), text(record)])
    expect(valuesByKey(deduplicated(got))).toEqual(expected)
    for (const [key, values] of valuesByKey(got))
      expect(firstOccurrences(values), `${key}`).toEqual(expected.get(key))
  })

  test('with the broker down: an abort rejects promptly; a send retrying across a restart delivers all, in order, once', async () => {
    const { sink, errors, lines } = await startSink({ produceTimeoutMs: 5_000 })
    const topic = uniqueName('outage')
    const before = Array.from({ length: 30 }, (_, index) => fact(topic, `k${index % 4}`, `before-${index}`))
    await sink.send(before, never())
    await broker.stop()

    const aborted = new AbortController()
    const abandoned = sink.send([fact(topic, 'k0', 'abandoned')], aborted.signal)
    abandoned.catch(() => {})
    await waitFor('a failed attempt', () => errors.length >= 1)
    expect(sink.readiness()).toMatchObject({ ready: false })
    const abortedAt = Date.now()
    aborted.abort()
    await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' })
    expect(Date.now() - abortedAt).toBeLessThan(2_000)

    const after = Array.from({ length: 30 }, (_, index) => fact(topic, `k${index % 4}`, `after-${index}`))
    const afterNext = Array.from({ length: 30 }, (_, index) => fact(topic, `k${index % 4}`, `next-${index}`))
    let resolved = false
    // Batch N retrying while the broker is down, N+1 queued behind it.
    const delivery = Promise.all([sink.send(after, never()), sink.send(afterNext, never())]).then(() => {
      resolved = true
    })
    const failedSoFar = errors.length
    await waitFor('the send to retry while the broker is down', () => errors.length >= failedSoFar + 2)
    expect(resolved).toBe(false)
    await broker.start()
    await delivery
    expect(sink.readiness()).toEqual({ ready: true })

    // The admin client reconnects too: a topic first seen after the restart is created.
    const later = uniqueName('later')
    await sink.send([fact(later, 'k', 'after-restart')], never())
    expect((await readTopic(broker.brokers, later)).map(valueText)).toEqual(['after-restart'])

    const got = await readTopic(broker.brokers, topic)
    const expected = new Map<string | null, string[]>()
    for (const record of [...before, ...after, ...afterNext])
      expected.set(record.key, [...(expected.get(record.key) ?? []), text(record)])
    expect(valuesByKey(got)).toEqual(expected)
    // The client's failures reach the log as the sink's warnings, one per kind per 10 s.
    const warnings = lines.filter((line) => line.message === 'producing to Kafka failed; retrying')
    expect(warnings.length).toBeLessThan(errors.length)
  })
})

function text(record: SinkRecord): string {
  return new TextDecoder().decode(record.value)
}

function firstOccurrences(values: string[]): string[] {
  return [...new Set(values)]
}

/** Two keys the relay's partitioner (murmur2, as the Java client) puts on different partitions. */
function twoKeysOnDifferentPartitions(partitions: number): [string, string] {
  const partitionOf = (key: string) => compatibilityPartitioner({ topic: 't' }, Buffer.from(key)) % partitions
  const first = 'aggregate-a'
  for (let index = 0; ; index++) {
    const other = `aggregate-b${index}`
    if (partitionOf(other) !== partitionOf(first)) return [first, other]
  }
}

/** The producer ids the client obtained while `run` ran, from its diagnostics channel. */
async function producerIdsDuring(run: () => Promise<unknown>): Promise<bigint[]> {
  const ids: bigint[] = []
  const channel = 'tracing:plt:kafka:producer:initIdempotent:asyncEnd'
  const onEnd = (context: unknown) => {
    const info = (context as { result?: ProducerInfo }).result
    if (info) ids.push(info.producerId)
  }
  subscribe(channel, onEnd)
  try {
    await run()
  } finally {
    unsubscribe(channel, onEnd)
  }
  return ids
}
