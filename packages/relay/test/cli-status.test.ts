import { createEmitter } from '@factlib/emit'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import { cli, runCli, start, startRelayProcess } from '../../../test/harness/cli.js'
import { freshDatabase, uniqueName, waitFor } from '../../../test/harness/index.js'

interface Report {
  slot: {
    name: string
    exists: boolean
    activePid?: number | null
    confirmedLsn?: string
    walStatus?: string
    safeWalSize?: number | null
    lagBytes?: number
    lagSeconds?: number | null
  }
  relay?: {
    reachable: boolean
    ready?: boolean
    reasons?: string[]
    relayed?: number
    factsPerSecond?: number
    error?: string
  }
}

describe('factlib status', async () => {
  const db = await freshDatabase('cli_status')
  const slot = uniqueName('slot')
  const env = { DATABASE_URL: db.url, FACTLIB_SLOT: slot }
  const relay = startRelayProcess({ ...env, FACTLIB_SINK: 'stdout', FACTLIB_PUBLICATION: uniqueName('pub') })
  afterAll(() => relay.stop())
  const source = uniqueName('status')
  const facts = createEmitter({ source })
  const writer = new pg.Client({ connectionString: db.url })
  await writer.connect()
  afterAll(() => writer.end())
  let emitted = 0
  const emit = async () => {
    await facts.emit(writer, { aggregateType: 'x', aggregateId: String(emitted), type: 't', data: emitted })
    emitted += 1
  }
  /** Emit every 20 ms while `work` runs, so the relay has throughput to show. */
  const whileEmitting = async <T>(work: () => Promise<T>): Promise<T> => {
    let going = true
    const loop = (async () => {
      while (going) {
        await emit()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    try {
      return await work()
    } finally {
      going = false
      await loop
    }
  }

  test('shows the slot and, with the HTTP port, the relay throughput and readiness', async () => {
    const port = await relay.httpPort()
    await relay.waitForLog('streaming')
    const { code, stdout, stderr } = await whileEmitting(() =>
      runCli(['status', '--json', '--http-port', String(port)], { env }),
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as Report
    expect(report.slot).toMatchObject({ name: slot, exists: true, walStatus: 'reserved', safeWalSize: null })
    expect(report.slot.activePid).toBeGreaterThan(0)
    expect(report.slot.confirmedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
    expect(typeof report.slot.lagBytes).toBe('number')
    expect(typeof report.slot.lagSeconds).toBe('number')
    expect(report.relay).toMatchObject({ reachable: true, ready: true, reasons: [] })
    expect(report.relay?.relayed).toBeGreaterThan(0)
    expect(report.relay?.factsPerSecond).toBeGreaterThan(0)

    const human = await runCli(['status', '--http-port', String(port)], { env })
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(
      new RegExp(`^replication slot "${slot}" in database ${db.name} \\(pgoutput\\)\\n`),
    )
    expect(human.stdout).toMatch(/\n {2}streamed by +server process \d+\n/)
    expect(human.stdout).toMatch(/\n {2}slot lag +[\d.]+ (B|KiB|MiB), [\d.]+ s\n/)
    expect(human.stdout).toMatch(/\n {2}safe_wal_size +unlimited\n/)
    expect(human.stdout).toMatch(
      /\n {2}ready +yes\n {2}throughput +[\d.]+ facts\/s, \d+ relayed since it started\n$/,
    )
  })

  test('--watch refreshes until Ctrl-C, one JSON line each time', async () => {
    const watch = start(
      process.execPath,
      [
        cli,
        'status',
        '--watch',
        '--json',
        '--interval',
        '0.2',
        '--http-port',
        String(await relay.httpPort()),
      ],
      { env },
    )
    const relayed = () =>
      watch
        .stdout()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as Report).relay?.relayed ?? 0)
    await whileEmitting(() =>
      waitFor('three refreshes showing more facts', () => {
        const seen = relayed()
        return seen.length >= 3 && (seen.at(-1) ?? 0) > (seen[0] ?? 0)
      }),
    )
    watch.interrupt('SIGINT')
    expect(await watch.exited).toBe(0)
    expect(watch.stderr()).toBe('')
  })

  test('exits 1 for a relay that does not answer and for a missing slot', async () => {
    const noRelay = await runCli(['status', '--json', '--relay-url', 'http://127.0.0.1:1'], { env })
    expect(noRelay.code).toBe(1)
    const report = JSON.parse(noRelay.stdout) as Report
    expect(report.slot.exists).toBe(true)
    expect(report.relay).toMatchObject({
      reachable: false,
      error: expect.stringContaining('cannot reach the relay at http://127.0.0.1:1'),
    })

    const missing = await runCli(['status', '--slot', uniqueName('none')], { env })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(
      /^factlib status: replication slot "none_\w+" does not exist in .*: run factlib setup, or start the relay \[SLOT_MISSING\]\n$/,
    )
  })
})
