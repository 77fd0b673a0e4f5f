import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { freshDatabase, uniqueName, waitFor, withClient } from '../../../test/harness/index.js'
import {
  ALL_DELIVERED,
  createSink,
  parseConfig,
  parseLsn,
  RelayMetrics,
  type SendResult,
  type Sink,
  type SinkRecord,
  silentLogger,
  startRelay,
} from '../src/index.js'
import { confirmedFlush } from './support/slot.js'

/** A sink of the user's own, as the public API allows: it holds each batch until the test releases it. */
function heldSink() {
  const received: SinkRecord[] = []
  const held: Array<() => void> = []
  let outstanding = 0
  let mostOutstanding = 0
  const sink: Sink = {
    kind: 'held-for-test',
    async start() {},
    async send(records): Promise<SendResult> {
      outstanding += 1
      mostOutstanding = Math.max(mostOutstanding, outstanding)
      await new Promise<void>((release) => held.push(release))
      received.push(...records)
      outstanding -= 1
      return ALL_DELIVERED
    },
    readiness: () => ({ ready: true }),
    async close() {},
  }
  return {
    sink,
    received,
    held: () => held.length,
    releaseAll: () => {
      for (const release of held.splice(0)) release()
    },
    mostOutstanding: () => mostOutstanding,
  }
}

describe('a sink of your own', () => {
  test('receives every fact as a CloudEvents record, one send at a time, and nothing is confirmed before send resolves', async () => {
    const db = await freshDatabase()
    const source = uniqueName('custom')
    const config = parseConfig({
      DATABASE_URL: db.url,
      FACTLIB_SINK: 'custom',
      FACTLIB_SLOT: uniqueName('slot'),
      FACTLIB_PUBLICATION: uniqueName('pub'),
      FACTLIB_HTTP_PORT: '0',
    })
    const custom = heldSink()
    const relay = await startRelay(config, { log: silentLogger, sink: custom.sink, statusIntervalMs: 50 })
    const flushed = () =>
      withClient(db.url, async (client) =>
        parseLsn(
          (await client.query<{ lsn: string }>('select pg_current_wal_flush_lsn()::text as lsn')).rows[0]
            ?.lsn ?? '0/0',
        ),
      )
    try {
      await waitFor('the relay to stream', () => relay.status().state === 'streaming')
      const before = await flushed()
      const facts = createEmitter({ source })
      for (let index = 0; index < 5; index++)
        await withClient(db.url, (client) =>
          facts.emit(client, { aggregateType: 'order', aggregateId: 'o-1', type: 'step', data: { index } }),
        )
      const last = await flushed()

      await waitFor('the first batch to reach the sink', () => custom.held() === 1)
      // While the sink holds the batch, status updates keep going out and none may confirm the held fact.
      const replies = await replyCount(db.url, config.slot, 3)
      expect(replies).toBeGreaterThanOrEqual(3)
      expect(parseLsn((await confirmedFlush(db.url, config.slot)) ?? '0/0')).toBeLessThanOrEqual(before)
      expect(custom.held()).toBe(1)

      await waitFor('every fact to reach the sink', () => {
        custom.releaseAll()
        return custom.received.length === 5
      })
      expect(custom.received.map((record) => JSON.parse(Buffer.from(record.value).toString()))).toEqual(
        [0, 1, 2, 3, 4].map((index) => ({ index })),
      )
      expect(custom.received[0]).toMatchObject({
        topic: `${source}.order`,
        key: 'o-1',
        headers: {
          ce_specversion: '1.0',
          ce_source: source,
          ce_type: 'step',
          'content-type': 'application/json',
        },
      })
      expect(custom.mostOutstanding()).toBe(1)
      await waitFor(
        'the slot to be confirmed past the last fact',
        async () => parseLsn((await confirmedFlush(db.url, config.slot)) ?? '0/0') >= last,
      )
      expect(relay.status()).toMatchObject({ state: 'streaming', relayed: 5 })
    } finally {
      custom.releaseAll()
      expect(await relay.stop()).toBe(0)
    }
  })

  test('FACTLIB_SINK=custom is refused where no sink object is given, saying what to set', () => {
    const config = parseConfig({ DATABASE_URL: 'postgres://localhost/app', FACTLIB_SINK: 'custom' })
    expect(config.sink).toEqual({ kind: 'custom' })
    expect(() => createSink(config, { log: silentLogger, metrics: new RelayMetrics() })).toThrow(
      expect.objectContaining({
        code: 'CUSTOM_SINK',
        message: expect.stringContaining('set FACTLIB_SINK to kafka or stdout'),
      }),
    )
  })
})

/** Wait until the server has received `count` more standby status updates from the slot's reader. */
async function replyCount(url: string, slot: string, count: number): Promise<number> {
  const replyTime = () =>
    withClient(url, async (client) => {
      const { rows } = await client.query<{ at: string | null }>(
        `select r.reply_time::text as at from pg_stat_replication r
           join pg_replication_slots s on s.active_pid = r.pid where s.slot_name = $1`,
        [slot],
      )
      return rows[0]?.at ?? null
    })
  let seen = 0
  let last = await replyTime()
  await waitFor(`${count} status updates`, async () => {
    const now = await replyTime()
    if (now !== last) {
      seen += 1
      last = now
    }
    return seen >= count
  })
  return seen
}
