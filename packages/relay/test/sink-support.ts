import { randomUUID } from 'node:crypto'
import { freePort } from '@factlib/dev/embedded-postgres'
import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from 'kafkajs'
import { type KafkaBroker, startKafka, waitFor } from '../../../test/harness/index.js'
import type { KafkaConfig } from '../src/config/config.js'
import type { Logger } from '../src/observability/log.js'
import type { SinkRecord } from '../src/sinks/sink.js'

export function plainConfig(brokers: string[], extra: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    kind: 'kafka',
    brokers,
    clusterArn: undefined,
    sasl: undefined,
    username: undefined,
    password: undefined,
    tls: false,
    ...extra,
  }
}

const encoder = new TextEncoder()

/** A record shaped like the relay's fact records (CloudEvents headers, `factlib-lsn`). */
export function fact(
  topic: string,
  key: string,
  value: Uint8Array | string,
  headers: Record<string, string> = {},
) {
  return {
    topic,
    key,
    value: typeof value === 'string' ? encoder.encode(value) : value,
    headers: {
      ce_specversion: '1.0',
      ce_id: randomUUID(),
      ce_source: 'shop',
      ce_type: 'test.happened',
      'content-type': 'application/octet-stream',
      'factlib-lsn': '0/16B3748',
      ...headers,
    },
  } satisfies SinkRecord
}

export interface LogLine {
  level: string
  message: string
  fields: Record<string, unknown>
}

/** A logger that keeps what it is given, with child fields merged. */
export function collectingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const make = (bound: Record<string, unknown>): Logger => {
    const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
      void lines.push({ level, message, fields: { ...bound, ...fields } })
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (fields) => make({ ...bound, ...fields }),
    }
  }
  return { logger: make({}), lines }
}

export interface Consumed {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: Buffer
  headers: Record<string, string>
}

/**
 * Every record in a topic: reads until as many as the partitions' high watermarks count (so duplicates and
 * extras show), in partition order by offset.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  client: Partial<KafkaJsConfig> = {},
): Promise<Consumed[]> {
  const kafka = new Kafka({ clientId: 'factlib-sink-test', brokers, logLevel: logLevel.NOTHING, ...client })
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const total = offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0)
  const consumed: Consumed[] = []
  if (total === 0) return consumed
  const consumer = kafka.consumer({ groupId: `factlib-sink-test-${randomUUID()}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(message.headers ?? {}))
          headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
        consumed.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          value: message.value ?? Buffer.alloc(0),
          headers,
        })
      },
    })
    await waitFor(`${total} records in ${topic}`, () => consumed.length >= total, { timeoutMs: 30_000 })
  } finally {
    await consumer.disconnect()
  }
  return consumed.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
}

/** Values per key in log order (the order a consumer of one partition sees). */
export function valuesByKey(records: Consumed[]): Map<string | null, string[]> {
  const byKey = new Map<string | null, string[]>()
  for (const record of records) {
    const values = byKey.get(record.key) ?? []
    values.push(record.value.toString('utf8'))
    byKey.set(record.key, values)
  }
  return byKey
}

/** Consumers deduplicate on `ce_id`: the first occurrence of each. */
export function deduplicated(records: Consumed[]): Consumed[] {
  const seen = new Set<string>()
  return records.filter((record) => {
    const id = record.headers.ce_id ?? ''
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

/**
 * A private broker with `count` extra listener ports. A port found free can be taken (by another test's
 * client connection) before the broker binds it; then the start is tried once more with new ports.
 */
export async function startKafkaWithPorts(
  count: number,
  properties: (ports: number[]) => Record<string, string | number>,
): Promise<{ broker: KafkaBroker; ports: number[] }> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = []
    for (let index = 0; index < count; index++) ports.push(await freePort())
    try {
      return { broker: await startKafka({ properties: properties(ports) }), ports }
    } catch (error) {
      if (attempt >= 2 || !/in use/i.test(error instanceof Error ? error.message : String(error))) throw error
    }
  }
}
