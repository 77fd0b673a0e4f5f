import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { portClosed, runCli, start, tempDir } from '../../../test/harness/cli.js'
import { uniqueName } from '../../../test/harness/index.js'

describe('npm start, the README first command', () => {
  test('builds, starts PostgreSQL, the relay and the demo producer; facts emitted through the printed DATABASE_URL flow to the output', {
    timeout: 180_000,
  }, async () => {
    // `--dir` keeps the database out of the repository (and apart from a developer's own .factlib).
    const dir = join(await tempDir(), '.factlib')
    const started = Date.now()
    const app = start('npm', ['start', '--', '--dir', dir, '--status-interval', '2'])
    const url = (await app.waitFor('stderr', /\n {2}DATABASE_URL=(postgres:\S+)\n/, 120_000))[1] as string
    console.info(`npm start printed DATABASE_URL after ${Date.now() - started} ms`)
    await app.waitFor('stdout', /^\{"topic":"demo\.order","key":"order-1",.*"ce_type":"order\.placed"/m)

    const source = uniqueName('start')
    const emitted = await runCli(
      [
        'emit',
        '--source',
        source,
        '--aggregate-type',
        'greeting',
        '--aggregate-id',
        'g-1',
        '--type',
        'greeting.sent',
        '--data',
        '{"hello":"world"}',
      ],
      { env: { DATABASE_URL: url } },
    )
    expect(emitted.code).toBe(0)
    const id = /^emitted (\S+) /.exec(emitted.stdout)?.[1]
    const line = (await app.waitFor('stdout', new RegExp(`^.*"ce_id":"${id}".*$`, 'm')))[0]
    expect(JSON.parse(line)).toMatchObject({
      topic: `${source}.greeting`,
      key: 'g-1',
      value: { hello: 'world' },
    })
    await app.waitFor('stderr', /^status: [\d.]+ facts\/s · [1-9]\d* total · .* · sink stdout · ready$/m)

    app.interrupt('SIGINT')
    // npm ends itself with the signal it forwarded (a shell shows 130), whatever the script's own exit code;
    // 'close' fires once dev, which shares npm's output pipes, has ended too.
    expect([0, 130, 'SIGINT']).toContain(await app.exited)
    expect(app.stderr()).toMatch(/\nStopped: \d+ facts relayed this run\./)
    expect(app.stderr()).not.toMatch(/"level":"(warn|error)"|\n\s+at /)
    expect(await portClosed(Number(new URL(url).port))).toBe(true)
  })
})
