import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { freshDatabase, uniqueName, waitFor, withClient } from '../../../test/harness/index.js'
import { parseConfig } from '../src/config/config.js'
import { jsonLogger } from '../src/observability/log.js'
import { METRICS } from '../src/observability/metric-names.js'
import { RelayMetrics } from '../src/observability/metrics.js'
import { SinkStall } from '../src/observability/sink-stall.js'
import type { RelayStatus } from '../src/relay/relay-state.js'
import { startRelay } from '../src/relay/start-relay.js'
import { ALL_DELIVERED, type Sink } from '../src/sinks/sink.js'

describe('SinkStall: how long the sink has held the oldest batch it has not acknowledged', () => {
  test('counts from the oldest batch with the sink, and is 0 while none is', () => {
    const stall = new SinkStall()
    expect(stall.seconds(1_000)).toBe(0)
    const first = stall.handed(1_000)
    const second = stall.handed(1_500)
    expect(stall.seconds(4_000)).toBe(3)
    // A later batch acknowledged first (a sink with several sends outstanding) does not end the stall.
    stall.acknowledged(second)
    expect(stall.seconds(4_000)).toBe(3)
    stall.acknowledged(first)
    expect(stall.seconds(9_000)).toBe(0)
    expect(stall.acknowledgements).toBe(2)
  })

  test('names the last error kind reported since the stall began, never an older one', () => {
    const stall = new SinkStall()
    stall.error('connection', 500)
    const batch = stall.handed(1_000)
    expect(stall.errorKind()).toBeUndefined()
    stall.error('not_enough_replicas', 1_200)
    stall.error('request_timeout', 1_400)
    expect(stall.errorKind()).toBe('request_timeout')
    stall.acknowledged(batch)
    expect(stall.errorKind()).toBeUndefined()
    stall.handed(2_000)
    expect(stall.errorKind()).toBeUndefined()
  })

  test('keeps the first hand-over of a batch its session abandoned until the sink acknowledges one', () => {
    const stall = new SinkStall()
    stall.abandoned(stall.handed(1_000))
    // Between sessions nothing is with the sink: no stall is reported.
    expect(stall.seconds(5_000)).toBe(0)
    // The next session hands the same facts over again: the clock goes on from the first time.
    const again = stall.handed(6_000)
    expect(stall.seconds(7_000)).toBe(6)
    stall.acknowledged(again)
    stall.handed(8_000)
    expect(stall.seconds(9_000)).toBe(1)

    // A relay that became a hot standby drops what it abandoned.
    const standby = new SinkStall()
    standby.abandoned(standby.handed(1_000))
    standby.reset()
    standby.handed(6_000)
    expect(standby.seconds(7_000)).toBe(1)
  })
})

/**
 * A webhook receiver that answers 503 until `recover()`, then 200, keeping what it accepted. The relay's
 * sink below posts each record to it and retries a refusal itself, as the Sink contract asks.
 */
async function webhookReceiver() {
  let healthy = false
  const accepted: string[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (healthy) accepted.push(Buffer.concat(chunks).toString('utf8'))
      response.writeHead(healthy ? 200 : 503).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/facts`,
    accepted,
    recover: () => {
      healthy = true
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('a custom sink that stops acknowledging', () => {
  test('is reported as stalled after FACTLIB_STALL_SECONDS, with its error kind, and recovers in order', async () => {
    const db = await freshDatabase()
    const receiver = await webhookReceiver()
    const metrics = new RelayMetrics()
    const sink: Sink = {
      kind: 'webhook',
      async start() {},
      async send(records, signal) {
        for (const record of records)
          for (;;) {
            const response = await fetch(receiver.url, { method: 'POST', body: record.value, signal })
            if (response.ok) break
            // Reported through the relay's metrics: the stall names it.
            metrics.produceError(`http_${response.status}`)
            await delay(50, undefined, { signal })
          }
        return ALL_DELIVERED
      },
      readiness: () => ({ ready: true }),
      async close() {},
    }
    const logs: Array<Record<string, unknown>> = []
    const relay = await startRelay(
      parseConfig({
        DATABASE_URL: db.url,
        FACTLIB_SINK: 'stdout',
        FACTLIB_SLOT: uniqueName('slot'),
        FACTLIB_PUBLICATION: uniqueName('pub'),
        FACTLIB_HTTP_PORT: '0',
        FACTLIB_STALL_SECONDS: '1',
      }),
      {
        log: jsonLogger({ stream: { write: (line: string) => logs.push(JSON.parse(line)) } }),
        metrics,
        sink,
      },
    )
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${relay.httpPort}/readyz`)
      return { status: response.status, body: (await response.json()) as RelayStatus & { reasons: string[] } }
    }
    try {
      await waitFor('streaming', () => relay.notReady().length === 0)
      const facts = createEmitter({ source: uniqueName('hooked') })
      const values = Array.from({ length: 6 }, (_, index) => `v${index}`)
      const emittedAt = Date.now()
      await withClient(db.url, async (client) => {
        await facts.emit(
          client,
          values.slice(0, 3).map((data) => ({ aggregateType: 'x', aggregateId: 'k', type: 't', data })),
        )
        await facts.emit(
          client,
          values.slice(3).map((data) => ({ aggregateType: 'x', aggregateId: 'k', type: 't', data })),
        )
      })

      let before: Awaited<ReturnType<typeof readyz>> | undefined
      const stalled = await waitFor('the relay to report the stall', async () => {
        const answer = await readyz()
        // Every answer agrees with itself: stalled exactly when over the setting, and only then the reason.
        const { sinkStallSeconds, sinkStalled, reasons } = answer.body
        expect(sinkStalled).toBe(sinkStallSeconds > 1)
        if (reasons.some((reason) => reason.includes('stalled'))) expect(sinkStallSeconds).toBeGreaterThan(1)
        if (!sinkStalled && answer.body.sinkErrorKind === 'http_503') before = answer
        return sinkStalled ? answer : undefined
      })
      const detectedAfter = (Date.now() - emittedAt) / 1000
      // Before the threshold the failing sink was retrying, counted, and the relay still ready.
      expect(before?.status).toBe(200)
      expect(stalled.status).toBe(503)
      expect(stalled.body.sinkErrorKind).toBe('http_503')
      expect(stalled.body.reasons).toEqual([
        expect.stringMatching(
          /^the webhook sink is stalled: it has not acknowledged a batch for \d+ s \(FACTLIB_STALL_SECONDS is 1\); last error: http_503\. Every source waits behind it; nothing is skipped$/,
        ),
      ])
      expect(detectedAfter).toBeGreaterThan(1)
      const text = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text()
      const stallLine = new RegExp(
        `^${METRICS.sinkStallSeconds.prometheus}\\{kind="http_503"\\} ([\\d.]+)$`,
        'm',
      )
      expect(Number(stallLine.exec(text)?.[1])).toBeGreaterThan(1)
      await waitFor('the stall in the log', () =>
        logs.find(
          (line) => line.msg === 'the sink is stalled: no batch acknowledged; every source waits behind it',
        ),
      )
      expect(receiver.accepted).toEqual([])

      receiver.recover()
      const ready = await waitFor('ready again', async () => {
        const answer = await readyz()
        return answer.status === 200 && answer.body.relayed === values.length ? answer : undefined
      })
      console.info(
        `custom sink: stall reported ${detectedAfter.toFixed(1)} s after the facts were emitted (FACTLIB_STALL_SECONDS=1)`,
      )
      expect(ready.body).toMatchObject({ sinkStallSeconds: 0, sinkErrorKind: null, sinkStalled: false })
      expect(receiver.accepted.map((body) => JSON.parse(body))).toEqual(values)
      expect(await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text()).toContain(
        `${METRICS.sinkStallSeconds.prometheus}{kind="none"} 0\n`,
      )
      await waitFor('the recovery in the log', () =>
        logs.find((line) => line.msg === 'the sink acknowledges again'),
      )
    } finally {
      expect(await relay.stop()).toBe(0)
      await receiver.close()
    }
  })
})
