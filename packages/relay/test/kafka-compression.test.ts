import { describe, expect, test } from 'vitest'
import { kafkaBrokers, kafkaUnavailable, uniqueName } from '../../../test/harness/index.js'
import {
  readTopic,
  readTopicDecodingAll,
  storedBytes,
  valueText,
} from '../../../test/harness/kafka-reader.js'
import { KAFKA_COMPRESSIONS, parseConfig } from '../src/config/config.js'
import { silentLogger } from '../src/observability/log.js'
import { RelayMetrics } from '../src/observability/metrics.js'
import { createSink } from '../src/sinks/create-sink.js'
import { fact } from './support/sink.js'

const env = { DATABASE_URL: 'postgres://relay@db:5432/app', KAFKA_BROKERS: 'b:9092' }

describe('KAFKA_COMPRESSION', () => {
  test('none unless set; a codec the relay does not know is refused at start, with the list', () => {
    const sink = parseConfig(env).sink
    expect(sink).toMatchObject({ kind: 'kafka', compression: 'none' })
    expect(parseConfig({ ...env, KAFKA_COMPRESSION: 'zstd' }).sink).toMatchObject({ compression: 'zstd' })
    expect(parseConfig(env, { 'kafka-compression': 'lz4' }).sink).toMatchObject({ compression: 'lz4' })
    expect(() => parseConfig({ ...env, KAFKA_COMPRESSION: 'brotli' })).toThrow(
      'KAFKA_COMPRESSION (--kafka-compression) is "brotli"; expected one of: none, gzip, snappy, lz4, zstd',
    )
  })
})

describe.skipIf(kafkaUnavailable())('each codec on the shared broker', () => {
  // 1 KB of JSON per fact, as the bench measures: text that compresses as facts do.
  const payload = (index: number) =>
    JSON.stringify({
      order: index,
      lines: Array.from({ length: 12 }, (_, line) => ({ sku: `sku-${line}`, qty: line })),
    })
  const stored = new Map<string, number>()

  test.each(KAFKA_COMPRESSIONS)(
    '%s: the relay produces records a consumer reads back, byte for byte',
    async (codec) => {
      const brokers = kafkaBrokers()
      const config = parseConfig({
        ...env,
        KAFKA_BROKERS: brokers.join(','),
        KAFKA_COMPRESSION: codec,
        FACTLIB_TOPIC_PARTITIONS: '1',
        FACTLIB_DLQ_TOPIC: uniqueName('dlq'),
      })
      const sink = createSink(config, { log: silentLogger, metrics: new RelayMetrics() })
      const topic = uniqueName(`codec-${codec}`)
      const records = Array.from({ length: 40 }, (_, index) =>
        fact(topic, `k${index % 3}`, payload(index), { 'content-type': 'application/json' }),
      )
      await sink.start()
      try {
        await sink.send(records, new AbortController().signal)
      } finally {
        await sink.close()
      }
      const expected = records.map((record) => ({
        key: record.key,
        value: textOf(record.value),
        headers: record.headers,
      }))
      const read = (got: Awaited<ReturnType<typeof readTopic>>) =>
        got.map((record) => ({ key: record.key, value: valueText(record), headers: record.headers }))
      expect(read(await readTopicDecodingAll(brokers, topic, records.length))).toEqual(expected)
      // kafkajs, the consumer most Node services run, decodes these two without plugins.
      if (codec === 'none' || codec === 'gzip')
        expect(read(await readTopic(brokers, topic))).toEqual(expected)
      stored.set(codec, await storedBytes(brokers, topic))
    },
  )

  test('every codec but none stores the batch compressed', () => {
    const none = stored.get('none') ?? 0
    expect(none).toBeGreaterThan(40 * 300)
    for (const codec of KAFKA_COMPRESSIONS.filter((codec) => codec !== 'none'))
      expect(stored.get(codec), codec).toBeLessThan(none / 2)
  })
})

function textOf(value: Uint8Array): string {
  return new TextDecoder().decode(value)
}
