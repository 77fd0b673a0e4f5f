import { PassThrough } from 'node:stream'
import pg from 'pg'
import { afterEach, expect, test, vi } from 'vitest'
import { relayEnv } from '../../../test/harness/cli.js'
import { freshDatabase, waitFor } from '../../../test/harness/index.js'
import { parseConfig } from '../src/config/config.js'
import { silentLogger } from '../src/observability/log.js'
import { type Relay, startRelay } from '../src/relay/start-relay.js'
import { StdoutSink } from '../src/sinks/stdout.js'
import { sleep } from '../src/util/retry.js'
import { ReplicationStream } from '../src/wal/stream.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** A relay (in this process, stdout sink) streaming a fresh slot, and the config for a second one on it. */
async function activeRelay(): Promise<{ active: Relay; config: ReturnType<typeof parseConfig> }> {
  const db = await freshDatabase()
  const config = parseConfig(relayEnv(db.url, { FACTLIB_SINK: 'stdout', FACTLIB_HTTP_PORT: '0' }))
  const active = await startRelay(config, { log: silentLogger, sink: quietSink() })
  await waitFor('the first relay streaming', () => active.status().state === 'streaming')
  return { active, config }
}

const quietSink = () => new StdoutSink({ stream: new PassThrough().resume() })

test('a hot standby retrying many times adds no abort listener per wait (no MaxListenersExceededWarning)', async () => {
  const { active, config } = await activeRelay()
  const warnings: Error[] = []
  const onWarning = (warning: Error) => void warnings.push(warning)
  process.on('warning', onWarning)
  try {
    const attempts = vi.spyOn(ReplicationStream.prototype, 'run')
    const standby = await startRelay(config, { log: silentLogger, sink: quietSink(), standbyRetryMs: 5 })
    await waitFor('more than ten standby waits', () => attempts.mock.calls.length > 12)
    expect(standby.status().state).toBe('standby')
    expect(await standby.stop()).toBe(0)
    // A warning is emitted on a later turn of the event loop than the listener that caused it.
    await sleep(50)
    const leaks = warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')
    expect(leaks.map((warning) => warning.message)).toEqual([])
  } finally {
    process.off('warning', onWarning)
    await active.stop()
  }
})

test('a hot standby stopped while its replication connection is being made stops at once', async () => {
  const { active, config } = await activeRelay()
  try {
    const standby = await startRelay(config, { log: silentLogger, sink: quietSink(), standbyRetryMs: 5 })
    await waitFor('the standby waiting', () => standby.status().state === 'standby')
    // pg never settles the connect() of a client ended before the server's reply: stop right then.
    const connect = pg.Client.prototype.connect
    const connecting = new Promise<void>((resolve) => {
      const spy = vi.spyOn(pg.Client.prototype, 'connect')
      spy.mockImplementation(function (this: pg.Client, ...args: Parameters<typeof connect>) {
        const result = Reflect.apply(connect, this, args) as ReturnType<typeof connect>
        if (isReplication(this)) {
          spy.mockRestore()
          resolve()
        }
        return result
      })
    })
    await connecting
    const code = await Promise.race([standby.stop(), sleep(5_000).then(() => 'still stopping after 5 s')])
    expect(code).toBe(0)
  } finally {
    await active.stop()
  }
})

function isReplication(client: pg.Client): boolean {
  const parameters = (client as unknown as { connectionParameters?: { replication?: unknown } })
    .connectionParameters
  return parameters?.replication !== undefined
}
