import { createEmitter } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { freshDatabase, uniqueName, waitFor, withClient } from '../../../test/harness/index.js'
import { parseConfig } from '../src/config/config.js'
import { startRelay } from '../src/relay/start-relay.js'
import { ALL_DELIVERED, type Sink } from '../src/sinks/sink.js'
import { collectingLogger } from './support/sink.js'
import { confirmedFlush } from './support/slot.js'

const db = await freshDatabase('drain_bounds')

/** A sink that keeps the ids it was given; while `held`, each send waits for `release`. */
function recordingSink() {
  const delivered: string[] = []
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let held = false
  const sink: Sink = {
    kind: 'recording',
    start: async () => {},
    async send(records) {
      if (held) await released
      delivered.push(...records.map((record) => record.headers.ce_id ?? ''))
      return ALL_DELIVERED
    },
    readiness: () => ({ ready: true }),
    close: async () => {},
  }
  return { sink, delivered, hold: () => (held = true), release }
}

/** 300 transactions of 10 facts of 1 KB: more than the least read-ahead holds. */
function emitBacklog(source: string): Promise<string[]> {
  const facts = createEmitter({ source })
  return withClient(db.url, async (client) => {
    const emitted: string[] = []
    for (let transaction = 0; transaction < 300; transaction++) {
      await client.query('begin')
      const batch = await facts.emit(
        client,
        Array.from({ length: 10 }, (_, index) => ({
          aggregateType: 'x',
          aggregateId: `a${index}`,
          type: 't',
          data: 'x'.repeat(1000),
        })),
      )
      await client.query('commit')
      emitted.push(...batch.map((fact) => fact.id))
    }
    return emitted
  })
}

/** A drain's configuration with a slot of its own and the least read-ahead. */
const drainConfig = (source: string) =>
  parseConfig({
    DATABASE_URL: db.url,
    FACTLIB_SINK: 'custom',
    FACTLIB_SLOT: uniqueName('slot'),
    FACTLIB_PUBLICATION: uniqueName('pub'),
    FACTLIB_SOURCES: source,
    FACTLIB_MAX_INFLIGHT_BYTES: String(1024 * 1024),
  })

describe('a drain run bounded by time or stopped', () => {
  test('at --max-seconds it stops reading, delivers and confirms what is in flight, and the next run continues', async () => {
    const source = uniqueName('seconds')
    const config = drainConfig(source)
    const run = async (sink: Sink, maxSeconds?: number) => {
      const log = collectingLogger()
      const relay = await startRelay(config, { log: log.logger, sink, drain: { maxSeconds } })
      return { relay, lines: log.lines }
    }
    const setup = await run(recordingSink().sink)
    expect(await setup.relay.done).toBe(0)

    const ids = await emitBacklog(source)

    const first = recordingSink()
    first.hold()
    const bounded = await run(first.sink, 0.5)
    await waitFor('the bound to stop reading', () =>
      bounded.lines.some((line) => line.message === 'drain stopped reading'),
    )
    expect(bounded.lines.find((line) => line.message === 'drain stopped reading')?.fields.reason).toBe(
      'max-seconds',
    )
    first.release()
    expect(await bounded.relay.done).toBe(3)
    const summary = await bounded.relay.drained
    expect(summary).toMatchObject({ outcome: 'bounded', reason: 'max-seconds', exitCode: 3 })
    // What was in flight at the bound went out, in order, and the slot is confirmed where the run says.
    expect(first.delivered.length).toBeGreaterThan(0)
    expect(first.delivered.length).toBeLessThan(ids.length)
    expect(first.delivered).toEqual(ids.slice(0, first.delivered.length))
    expect(await confirmedFlush(db.url, config.slot)).toBe(summary?.endLsn)

    const second = recordingSink()
    const rest = await run(second.sink)
    expect(await rest.relay.done).toBe(0)
    // No gap: the second run starts at or before where the first one's deliveries ended.
    const resumedAt = ids.indexOf(second.delivered[0] ?? '')
    expect(resumedAt).toBeGreaterThanOrEqual(0)
    expect(resumedAt).toBeLessThanOrEqual(first.delivered.length)
    expect(second.delivered).toEqual(ids.slice(resumedAt))
  })
  test('stop() (SIGTERM) during a drain finishes what is in flight and resolves 3: more is left', async () => {
    const source = uniqueName('stopped')
    const config = drainConfig(source)
    const setup = await startRelay(config, {
      log: collectingLogger().logger,
      sink: recordingSink().sink,
      drain: {},
    })
    expect(await setup.done).toBe(0)
    const ids = await emitBacklog(source)
    const held = recordingSink()
    held.hold()
    const log = collectingLogger()
    const relay = await startRelay(config, { log: log.logger, sink: held.sink, drain: {} })
    await waitFor('the drain to stream', () => log.lines.some((line) => line.message === 'streaming'))
    const stopped = relay.stop()
    held.release()
    expect(await stopped).toBe(0)
    expect(await relay.done).toBe(3)
    expect(await relay.drained).toMatchObject({ outcome: 'bounded', reason: 'stopped', exitCode: 3 })
    expect(held.delivered).toEqual(ids.slice(0, held.delivered.length))
    expect(held.delivered.length).toBeLessThan(ids.length)
    expect(await confirmedFlush(db.url, config.slot)).toBe((await relay.drained)?.endLsn)
  })
})
