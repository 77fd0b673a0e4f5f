import { PassThrough } from 'node:stream'
import { createEmitter } from '@factlib/emit'
import { afterEach, expect, test, vi } from 'vitest'
import { relayEnv } from '../../../test/harness/cli.js'
import { freshDatabase, uniqueName, waitFor, withClient } from '../../../test/harness/index.js'
import { parseConfig } from '../src/config/config.js'
import { startRelay } from '../src/relay/start-relay.js'
import { StdoutSink } from '../src/sinks/stdout.js'
import { formatLsn, parseLsn } from '../src/wal/lsn.js'
import { ReplicationStream } from '../src/wal/stream.js'
import { collectingLogger } from './support/sink.js'
import { confirmedFlush } from './support/slot.js'

afterEach(() => {
  vi.restoreAllMocks()
})

test('"relay stopped" reports the position PostgreSQL confirmed, not one whose status update failed', async () => {
  const db = await freshDatabase()
  const source = uniqueName('stopped')
  const config = parseConfig(relayEnv(db.url, { FACTLIB_SINK: 'stdout', FACTLIB_HTTP_PORT: '0' }))
  const out = new PassThrough()
  const written: string[] = []
  out.on('data', (chunk: Buffer) => void written.push(chunk.toString('utf8')))
  const { logger, lines } = collectingLogger()
  const relay = await startRelay(config, { log: logger, sink: new StdoutSink({ stream: out }) })
  await waitFor('streaming', () => relay.status().state === 'streaming')
  const facts = createEmitter({ source })
  const emit = (n: number) =>
    withClient(db.url, (client) =>
      facts.emit(client, { aggregateType: 'x', aggregateId: 'k', type: 't', data: n }),
    )

  const first = await emit(1)
  const relayed = await waitFor('the first fact relayed', () =>
    written
      .join('')
      .split('\n')
      .find((line) => line.includes(first.id)),
  )
  const firstCommit = parseLsn(JSON.parse(relayed).headers['factlib-lsn'])
  const before = await waitFor('the first fact confirmed', async () => {
    const confirmed = relay.confirmed() ?? 0n
    const flushed = await confirmedFlush(db.url, config.slot)
    return confirmed > firstCommit && flushed === formatLsn(confirmed) && flushed
  })

  // From now on every status update fails to go out, as when the connection is cut.
  vi.spyOn(ReplicationStream.prototype, 'confirm').mockRejectedValue(new Error('connection cut'))
  const second = await emit(2)
  await waitFor('the second fact relayed', () => written.join('').includes(second.id))
  await waitFor('a failed status update', () =>
    lines.some((line) => line.message === 'sending the standby status update failed'),
  )

  expect(await relay.stop()).toBe(0)
  const stopped = lines.find((line) => line.message === 'relay stopped')
  const flushed = await confirmedFlush(db.url, config.slot)
  expect(flushed).toBe(before)
  expect(stopped?.fields.confirmed).toBe(flushed)
  expect(relay.confirmed() === undefined ? undefined : formatLsn(relay.confirmed() ?? 0n)).toBe(flushed)
})
