import { PassThrough } from 'node:stream'
import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { relayEnv, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  kafkaBrokers,
  kafkaUnavailable,
  privatePostgres,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'
import { parseConfig } from '../src/config/config.js'
import { silentLogger } from '../src/observability/log.js'
import { METRIC_DIMENSION, METRICS } from '../src/observability/metric-names.js'
import { RelayMetrics } from '../src/observability/metrics.js'
import { startRelay } from '../src/relay/start-relay.js'
import { StdoutSink } from '../src/sinks/stdout.js'
import { invalidateSlot } from './support/slot.js'

describe.skipIf(kafkaUnavailable())('observability', () => {
  test('/healthz, /readyz and /metrics report the metric contract; EMF lines carry the CloudWatch names', async () => {
    const db = await freshDatabase()
    const source = uniqueName('observed')
    const slot = uniqueName('slot')
    const relay = startRelayProcess(
      relayEnv(db.url, {
        FACTLIB_SLOT: slot,
        FACTLIB_METRICS: 'emf',
        FACTLIB_METRICS_INTERVAL: '1',
        FACTLIB_METRICS_NAMESPACE: 'FactlibTest',
      }),
    )
    await relay.waitForLog('streaming')
    const facts = createEmitter({ source })
    await withClient(db.url, (client) =>
      facts.emit(client, [
        { aggregateType: 'x', aggregateId: '1', type: 't', data: 1 },
        { aggregateType: 'x', aggregateId: '2', type: 't', data: 2 },
      ]),
    )
    const reader = await readTopics(kafkaBrokers(), [`${source}.x`])
    await reader.until('both facts', (records) => records.length >= 2)
    await reader.stop()

    const health = await relay.get('/healthz')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, state: 'streaming', slot })
    const ready = await relay.get('/readyz')
    expect(ready.status).toBe(200)
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, reasons: [] })

    const metrics = (await relay.get('/metrics')).body
    expect(metrics).toContain(`${METRICS.factsRelayed.prometheus}{source="${source}"} 2`)
    expect(metrics).toContain(`${METRICS.streaming.prometheus} 1`)
    expect(metrics).toContain(`${METRICS.sinkStallSeconds.prometheus}{kind="none"} 0\n`)
    expect(metrics).toContain(`${METRICS.slotWalStatus.prometheus}{status="reserved"} 1`)
    expect(metrics).toContain(`${METRICS.endToEndLatency.prometheus}_count 2`)
    expect(metrics).toMatch(new RegExp(`${METRICS.slotLagBytes.prometheus} \\d+`))
    expect(metrics).toMatch(new RegExp(`${METRICS.slotLagSeconds.prometheus} [\\d.]+`))
    for (const metric of Object.values(METRICS)) expect(metrics).toContain(`# TYPE ${metric.prometheus} `)
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(metrics)?.[1])
    expect(rss).toBeGreaterThan(10 * 2 ** 20)
    expect(metrics).toMatch(/^nodejs_external_memory_bytes \d+$/m)

    // EMF: one line per interval; counts are per interval, so wait for the line that carries the two facts.
    const line = await waitFor('an EMF line with the relayed facts', () =>
      relay.stdout
        .map((text) => JSON.parse(text) as Record<string, unknown>)
        .find((emf) => emf[METRICS.factsRelayed.emf] === 2),
    )
    const aws = line._aws as {
      CloudWatchMetrics: Array<{
        Namespace: string
        Dimensions: string[][]
        Metrics: Array<{ Name: string; Unit: string }>
      }>
    }
    const [directive] = aws.CloudWatchMetrics
    expect(directive?.Namespace).toBe('FactlibTest')
    expect(directive?.Dimensions).toEqual([[METRIC_DIMENSION]])
    expect(line[METRIC_DIMENSION]).toBe(slot)
    const units = Object.fromEntries((directive?.Metrics ?? []).map((metric) => [metric.Name, metric.Unit]))
    expect(units).toEqual({
      [METRICS.factsRelayed.emf]: 'Count',
      [METRICS.deadLettered.emf]: 'Count',
      [METRICS.produceErrors.emf]: 'Count',
      [METRICS.foreignMessages.emf]: 'Count',
      [METRICS.sinkStallSeconds.emf]: 'Seconds',
      [METRICS.slotLagBytes.emf]: 'Bytes',
      [METRICS.slotLagSeconds.emf]: 'Seconds',
      [METRICS.endToEndLatencyP50.emf]: 'Milliseconds',
      [METRICS.endToEndLatency.emf]: 'Milliseconds',
      [METRICS.streaming.emf]: 'Count',
    })
    expect(line[METRICS.streaming.emf]).toBe(1)
    expect(line[METRICS.sinkStallSeconds.emf]).toBe(0)
    expect(typeof line[METRICS.endToEndLatency.emf]).toBe('number')
    expect(await relay.stop()).toBe(0)
  })
})

describe('an invalidated slot while streaming', () => {
  const server = privatePostgres({ settings: { max_slot_wal_keep_size: '1MB' } })

  test('makes the relay not ready, raises the wal_status metric and ends it with exit code 1', async () => {
    // A sink whose output nobody reads: the relay stops reading and its slot falls behind, as with a
    // Kafka outage.
    const stuck = new PassThrough({ highWaterMark: 1024 })
    const config = parseConfig({
      DATABASE_URL: server.url,
      FACTLIB_SINK: 'stdout',
      FACTLIB_SLOT: uniqueName('slot'),
      FACTLIB_PUBLICATION: uniqueName('pub'),
      FACTLIB_HTTP_PORT: '0',
      FACTLIB_MAX_INFLIGHT_BYTES: String(1024 * 1024),
    })
    const metrics = new RelayMetrics()
    const relay = await startRelay(config, {
      log: silentLogger,
      metrics,
      sink: new StdoutSink({ stream: stuck }),
      monitorIntervalMs: 200,
    })
    await waitFor('streaming', () => relay.notReady().length === 0)
    const facts = createEmitter({ source: 'lost' })
    await withClient(server.url, async (client) => {
      for (let n = 0; n < 50; n++)
        await facts.emit(client, {
          aggregateType: 'x',
          aggregateId: 'k',
          type: 't',
          payload: 'y'.repeat(40_000),
        })
    })
    await invalidateSlot(server.url, config.slot)
    expect(await relay.done).toBe(1)
    expect(relay.notReady().join()).toContain('wal_status = lost')
    expect(metrics.prometheus()).toContain(`${METRICS.slotWalStatus.prometheus}{status="lost"} 1`)
    expect(metrics.prometheus()).toContain(`${METRICS.streaming.prometheus} 0`)
  })
})
