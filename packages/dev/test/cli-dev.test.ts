import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { devCommand } from '@factlib/dev'
import { describe, expect, test } from 'vitest'
import { cli, portClosed, runCli, start, tempDir } from '../../../test/harness/cli.js'
import { kafkaBrokers, kafkaUnavailable, uniqueName, withClient } from '../../../test/harness/index.js'
import { readTopics } from '../../../test/harness/kafka-reader.js'

/** Emit one fact through `factlib emit`, a separate process, as a user would try it; returns its id. */
async function emitFact(url: string, source: string, aggregateId: string): Promise<string> {
  const { code, stdout, stderr } = await runCli([
    'emit',
    '--database-url',
    url,
    '--source',
    source,
    '--aggregate-type',
    'order',
    '--aggregate-id',
    aggregateId,
    '--type',
    'order.placed',
    '--data',
    `{"id":"${aggregateId}"}`,
    '--json',
  ])
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return (JSON.parse(stdout) as { id: string }).id
}

const devArgs = (...flags: string[]) => [cli, 'dev', '--status-interval', '1', ...flags]

test('factlib dev --help, with @factlib/dev installed as in this repository, prints dev’s own help', async () => {
  const { code, stdout, stderr } = await runCli(['dev', '--help'])
  expect(stderr).toBe('')
  expect(code).toBe(0)
  expect(stdout).toBe(`${devCommand.help}\n`)
  expect(stdout).toContain('--demo')
  expect(stdout).not.toContain('npm install --save-dev @factlib/dev')
})

describe('factlib dev, its output piped', () => {
  test('relays facts emitted through the printed DATABASE_URL to stdout, keeps its database across restarts, and stops on Ctrl-C', {
    timeout: 120_000,
  }, async () => {
    const cwd = await tempDir()
    const source = uniqueName('dev')

    const first = start(process.execPath, devArgs(), { cwd })
    const url = (await first.waitFor('stderr', /\n {2}DATABASE_URL=(\S+)\n/))[1] as string
    const port = Number(new URL(url).port)
    expect(await readFile(join(cwd, '.factlib', '.gitignore'), 'utf8')).toBe('*\n')
    expect(JSON.parse(await readFile(join(cwd, '.factlib', 'dev.json'), 'utf8'))).toEqual({ port })
    await withClient(url, async (client) => {
      await client.query('create table kept (note text)')
      await client.query('insert into kept values ($1)', ['from the first run'])
    })

    const firstId = await emitFact(url, source, 'o-1')
    const line = (await first.waitFor('stdout', new RegExp(`^.*"ce_id":"${firstId}".*$`, 'm')))[0]
    expect(JSON.parse(line)).toMatchObject({
      topic: `${source}.order`,
      key: 'o-1',
      headers: { ce_type: 'order.placed', ce_source: source },
      value: { id: 'o-1' },
    })
    // Not a terminal: plain status lines at the interval, never carriage returns or escape sequences.
    await first.waitFor(
      'stderr',
      /^status: [\d.]+ facts\/s · 1 total · slot lag [\d.]+ \w+ \/ [\d.]+ s · sink stdout · ready$/m,
    )
    expect(first.stderr()).not.toContain('\r')
    expect(first.stderr()).not.toContain('\u001b')

    first.interrupt('SIGINT')
    expect(await first.exited).toBe(0)
    expect(first.stderr()).toContain(
      'Stopped: 1 fact relayed this run. The database is kept in .factlib/postgres;',
    )
    expect(await portClosed(port)).toBe(true)

    // The same folder again: the same port, the same data, and the first fact was confirmed, so it is not relayed twice.
    const second = start(process.execPath, devArgs(), { cwd })
    await second.waitFor('stderr', /kept from the last run/)
    expect((await second.waitFor('stderr', /\n {2}DATABASE_URL=(\S+)\n/))[1]).toBe(url)
    expect(
      await withClient(url, async (client) => (await client.query('select note from kept')).rows),
    ).toEqual([{ note: 'from the first run' }])
    const secondId = await emitFact(url, source, 'o-2')
    await second.waitFor('stdout', new RegExp(`"ce_id":"${secondId}"`))
    expect(second.stdout()).not.toContain(firstId)
    second.interrupt('SIGTERM')
    expect(await second.exited).toBe(0)

    const fresh = start(process.execPath, devArgs('--fresh'), { cwd })
    const freshUrl = (await fresh.waitFor('stderr', /\n {2}DATABASE_URL=(\S+)\n/))[1] as string
    expect(fresh.stderr()).toContain('(new; --fresh starts over)')
    expect(
      await withClient(
        freshUrl,
        async (client) => (await client.query(`select to_regclass('kept') as t`)).rows[0].t,
      ),
    ).toBeNull()
    fresh.interrupt('SIGINT')
    expect(await fresh.exited).toBe(0)
  })

  test.skipIf(kafkaUnavailable())(
    'relays to Kafka when KAFKA_BROKERS is set',
    { timeout: 90_000 },
    async () => {
      const dir = join(await tempDir(), 'state')
      const source = uniqueName('devk')
      const dev = start(process.execPath, devArgs('--dir', dir), {
        env: {
          KAFKA_BROKERS: kafkaBrokers().join(','),
          FACTLIB_DLQ_TOPIC: uniqueName('dlq'),
          FACTLIB_TOPIC_PARTITIONS: '1',
        },
      })
      const url = (await dev.waitFor('stderr', /\n {2}DATABASE_URL=(\S+)\n/))[1] as string
      expect(dev.stderr()).toContain(`to Kafka at ${kafkaBrokers().join(',')}`)
      const id = await emitFact(url, source, 'k-1')
      const reader = await readTopics(kafkaBrokers(), [`${source}.order`])
      await reader.until('the fact in Kafka', (records) =>
        records.some((record) => record.headers.ce_id === id),
      )
      await reader.stop()
      await dev.waitFor('stderr', /^status: .* · 1 total · .* · sink kafka /m)
      expect(dev.stdout()).toBe('')
      dev.interrupt('SIGINT')
      expect(await dev.exited).toBe(0)
      expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('*\n')
    },
  )
})
