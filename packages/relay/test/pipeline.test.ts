import { encodeEnvelope } from '@factlib/emit/envelope'
import { describe, expect, test } from 'vitest'
import { waitFor } from '../../../test/harness/wait.js'
import { silentLogger } from '../src/observability/log.js'
import { RelayMetrics } from '../src/observability/metrics.js'
import { Pipeline } from '../src/pipeline/pipeline.js'
import { ALL_DELIVERED, type Sink, type SinkRecord } from '../src/sinks/sink.js'

/** A sink that takes up to `maxInflightSends` batches and resolves each one when the test says so. */
function gatedSink(maxInflightSends: number | undefined) {
  const batches: Array<{ records: SinkRecord[]; resolve: () => void; done: boolean }> = []
  let outstanding = 0
  let most = 0
  const sink: Sink = {
    kind: 'gated',
    ...(maxInflightSends === undefined ? {} : { maxInflightSends }),
    async start() {},
    send(records) {
      outstanding += 1
      most = Math.max(most, outstanding)
      return new Promise((resolve) => {
        const batch = {
          records,
          done: false,
          resolve: () => {
            batch.done = true
            outstanding -= 1
            resolve(ALL_DELIVERED)
          },
        }
        batches.push(batch)
      })
    },
    readiness: () => ({ ready: true }),
    async close() {},
  }
  return { sink, batches, most: () => most }
}

function pipelineFor(
  sink: Sink,
  confirmed: bigint[],
  options: { sources?: string[]; metrics?: RelayMetrics } = {},
) {
  return new Pipeline(0n, {
    sink,
    topic: '{source}.{aggregateType}',
    dlqTopic: 'dlq',
    sources: options.sources ? new Set(options.sources) : undefined,
    maxInflightBytes: 1 << 30,
    maxBatchRecords: 10,
    maxBatchBytes: 1 << 20,
    lingerMs: 0,
    metrics: options.metrics ?? new RelayMetrics(),
    log: silentLogger,
    onBackpressure: () => {},
    onConfirmable: (position) => confirmed.push(position),
  })
}

/** Transactions `from`..`to` of one fact each, transaction n committed at position n × 100, read in one go. */
function readTransactions(pipeline: Pipeline, from: number, to: number): void {
  for (let index = from; index <= to; index++) {
    const position = BigInt(index * 100)
    pipeline.begin(position - 10n, Date.now())
    const content = encodeEnvelope(
      {
        id: `id-${index}`,
        type: 'step',
        aggregateType: 'order',
        aggregateId: `o-${index % 3}`,
        time: new Date().toISOString(),
        contentType: 'application/json',
      },
      new TextEncoder().encode(String(index)),
    )
    pipeline.message({ transactional: true, lsn: position - 5n, prefix: 'shop', content })
    pipeline.commit(position)
  }
}

describe('pipeline', () => {
  test('a sink that takes one batch at a time never sees a second before the first resolved', async () => {
    const gated = gatedSink(undefined)
    const confirmed: bigint[] = []
    const pipeline = pipelineFor(gated.sink, confirmed)
    readTransactions(pipeline, 1, 25)
    // Acknowledge whatever is under way, batch after batch, until all 25 facts went through.
    await waitFor('all 25 facts to reach the sink', () => {
      for (const batch of gated.batches) if (!batch.done) batch.resolve()
      return gated.batches.reduce((sum, batch) => sum + batch.records.length, 0) === 25
    })
    for (const batch of gated.batches) if (!batch.done) batch.resolve()
    await pipeline.drain()
    expect(gated.most()).toBe(1)
    expect(gated.batches.flatMap((batch) => batch.records.map((record) => record.headers.ce_id))).toEqual(
      Array.from({ length: 25 }, (_, index) => `id-${index + 1}`),
    )
    expect(pipeline.confirmations.position).toBe(2500n)
  })

  test('with several sends allowed, full batches go out together in WAL order and confirmation waits for the earliest', async () => {
    const gated = gatedSink(3)
    const confirmed: bigint[] = []
    const pipeline = pipelineFor(gated.sink, confirmed)
    readTransactions(pipeline, 1, 1)
    await waitFor('the first batch', () => gated.batches.length === 1)
    // A backlog arrives while the first batch is under way: full batches of 10 fill the other two sends.
    readTransactions(pipeline, 2, 31)
    await waitFor('three batches under way', () => gated.batches.length === 3)
    expect(gated.batches.map((batch) => batch.records.length)).toEqual([1, 10, 10])
    expect(gated.most()).toBe(3)

    // The later batches are acknowledged first: nothing past the first batch's transaction may be confirmed.
    gated.batches[2]?.resolve()
    gated.batches[1]?.resolve()
    await waitFor('the third batch to settle', () => gated.batches[2]?.done === true)
    expect(pipeline.confirmations.position).toBe(0n)
    gated.batches[0]?.resolve()
    await waitFor(
      'everything up to transaction 21 to be confirmable',
      () => pipeline.confirmations.position === 2100n,
    )

    // The last ten go out once one of the three sends is free; then everything is confirmed.
    await waitFor('the last batch', () => gated.batches.length === 4)
    gated.batches[3]?.resolve()
    await pipeline.drain()
    expect(pipeline.confirmations.position).toBe(3100n)
    expect(gated.batches.flatMap((batch) => batch.records.map((record) => record.headers.ce_id))).toEqual(
      Array.from({ length: 31 }, (_, index) => `id-${index + 1}`),
    )
    expect(confirmed.at(-1)).toBe(3100n)
  })

  test.each([
    ['no sources configured', undefined],
    ['sources configured', ['shop']],
  ])(
    "with %s, other tools' messages are skipped and confirmed, the relay's own malformed ones dead-lettered",
    async (_, sources) => {
      const gated = gatedSink(undefined)
      const metrics = new RelayMetrics()
      const pipeline = pipelineFor(gated.sink, [], { ...(sources ? { sources } : {}), metrics })
      const text = (value: string) => new TextEncoder().encode(value)
      // Another tool's heartbeat (non-transactional) and its transactional JSON: skipped, nothing to the sink.
      pipeline.message({ transactional: false, lsn: 50n, prefix: 'heartbeat', content: text('2026-12-06') })
      expect(pipeline.confirmations.position).toBe(50n)
      pipeline.begin(90n, Date.now())
      pipeline.message({ transactional: true, lsn: 80n, prefix: 'debezium', content: text('{"op":"c"}') })
      pipeline.commit(100n)
      expect(pipeline.confirmations.position).toBe(100n)
      // The relay's own: an envelope-looking message under its prefix that is malformed goes to the DLQ.
      pipeline.begin(190n, Date.now())
      pipeline.message({
        transactional: true,
        lsn: 180n,
        prefix: 'shop',
        content: text('{"v":1,"id":"x"}\n'),
      })
      pipeline.commit(200n)
      await waitFor('the dead letter', () => gated.batches.length === 1)
      expect(gated.batches[0]?.records[0]?.topic).toBe('dlq')
      gated.batches[0]?.resolve()
      await pipeline.drain()
      expect(pipeline.confirmations.position).toBe(200n)
      expect(metrics.totals()).toMatchObject({ foreign: 2, deadLettered: 1 })
    },
  )

  test('with sources configured, a message under another prefix is foreign even when it looks like an envelope', async () => {
    const gated = gatedSink(undefined)
    const metrics = new RelayMetrics()
    const pipeline = pipelineFor(gated.sink, [], { sources: ['shop'], metrics })
    readTransactions(pipeline, 1, 1)
    pipeline.begin(190n, Date.now())
    pipeline.message({
      transactional: true,
      lsn: 180n,
      prefix: 'billing',
      content: new TextEncoder().encode('{"v":1}\n'),
    })
    pipeline.commit(200n)
    await waitFor('the fact', () => gated.batches.length === 1)
    gated.batches[0]?.resolve()
    await pipeline.drain()
    expect(gated.batches.flatMap((batch) => batch.records.map((record) => record.topic))).toEqual([
      'shop.order',
    ])
    expect(metrics.totals()).toMatchObject({ foreign: 1, relayed: 1 })
  })

  test('the foreign-prefix label is bounded: past 20 prefixes they count as other', () => {
    const metrics = new RelayMetrics()
    for (let index = 0; index < 25; index++) expect(metrics.foreignMessage(`tool${index}`)).toBe(true)
    expect(metrics.foreignMessage('tool0')).toBe(false)
    const text = metrics.prometheus()
    expect(text.match(/factlib_foreign_messages_total\{prefix=/g)).toHaveLength(21)
    expect(text).toContain('factlib_foreign_messages_total{prefix="other"} 5')
  })
})
