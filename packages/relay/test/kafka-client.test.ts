import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { kafkaBrokers, kafkaUnavailable, uniqueName } from '../../../test/harness/index.js'
import { readTopic, valueText } from '../../../test/harness/kafka-reader.js'
import { kafkaClientOptions } from '../src/sinks/kafka/client.js'
import { plainConfig } from './support/sink.js'

const run = promisify(execFile)
// The built package, as the CLI loads it (npm test builds first).
const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const built = (path: string) => JSON.stringify(pathToFileURL(join(dist, path)).href)

describe('kafkaClientOptions', () => {
  test('PLAIN and SCRAM pass the credentials to the client; TLS follows KAFKA_TLS', async () => {
    const plain = await kafkaClientOptions(
      plainConfig(['b:9096'], { sasl: 'plain', username: 'relay', password: 'pw', tls: true }),
      {},
    )
    expect(plain.options).toMatchObject({
      bootstrapBrokers: ['b:9096'],
      tls: {},
      sasl: { mechanism: 'PLAIN', username: 'relay', password: 'pw' },
    })
    for (const [sasl, mechanism] of [
      ['scram-sha-256', 'SCRAM-SHA-256'],
      ['scram-sha-512', 'SCRAM-SHA-512'],
    ] as const) {
      const { options } = await kafkaClientOptions(
        plainConfig(['b:9096'], { sasl, username: 'relay', password: 'pw', tls: true }),
        {},
      )
      expect(options.sasl).toEqual({ mechanism, username: 'relay', password: 'pw' })
    }
    const { options } = await kafkaClientOptions(plainConfig(['b:9092']), {})
    expect(options.tls).toBeUndefined()
    expect(options.sasl).toBeUndefined()
  })

  test('extra TLS options (a private CA) are the TLS options; SNI names a host, never an address', async () => {
    const { options } = await kafkaClientOptions(plainConfig(['b-1.msk:9094'], { tls: true }), {
      tlsOptions: { ca: 'PEM' },
    })
    expect(options.tls).toEqual({ ca: 'PEM' })
    expect(options.tlsServerName).toBe(true)
    const byAddress = await kafkaClientOptions(plainConfig(['10.0.0.1:9094'], { tls: true }), {})
    expect(byAddress.options.tlsServerName).toBe(false)
  })

  test('IAM is OAUTHBEARER with a token provider; without a region to sign for it fails naming what to set', async () => {
    const iam = plainConfig(['b:9098'], { sasl: 'iam', tls: true })
    const { options } = await kafkaClientOptions(iam, { awsRegion: 'eu-central-1' })
    expect(options.sasl?.mechanism).toBe('OAUTHBEARER')
    expect(typeof options.sasl?.token).toBe('function')
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION }
    delete process.env.AWS_REGION
    delete process.env.AWS_DEFAULT_REGION
    try {
      await expect(kafkaClientOptions(iam, {})).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('KAFKA_CLUSTER_ARN or AWS_REGION'),
      })
    } finally {
      Object.assign(
        process.env,
        Object.fromEntries(Object.entries(saved).filter(([, value]) => value !== undefined)),
      )
    }
  })
})

test("the client writes nothing of its own: what it fails at reaches the log as the sink's JSON warnings", async () => {
  const script = `
    const { KafkaSink } = await import(${built('sinks/kafka/kafka-sink.js')})
    const { jsonLogger } = await import(${built('observability/log.js')})
    const sink = new KafkaSink(
      { kind: 'kafka', brokers: ['127.0.0.1:9'], tls: false, compression: 'none' },
      { dlqTopic: 'd', topicPartitions: 1, startTimeoutMs: 2_500, log: jsonLogger() },
    )
    await sink.start().catch(() => {})`
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    timeout: 20_000,
  })
  expect(stdout).toBe('')
  const lines = stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: string; msg: string; component?: string; error?: string })
  const retries = lines.filter((line) => line.msg === 'Kafka is not reachable yet; retrying')
  expect(retries.length).toBeGreaterThanOrEqual(2)
  expect(retries.every((line) => line.level === 'warn' && line.component === 'kafka-sink')).toBe(true)
  expect(retries[0]?.error).toContain('ECONNREFUSED')
  expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'cannot connect to Kafka' })
})

/** The modules matching `pattern` that running `script` (an ES module) resolves, by URL. */
async function modulesLoaded(script: string, pattern: RegExp): Promise<{ stdout: string; loaded: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'factlib-lazy-'))
  try {
    const hook = join(dir, 'hook.mjs')
    await writeFile(
      hook,
      `export async function resolve(specifier, context, next) {
         const result = await next(specifier, context)
         if (${pattern}.test(result.url)) process.stdout.write('loaded ' + result.url + '\\n')
         return result
       }`,
    )
    await writeFile(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`,
    )
    const { stdout } = await run(
      process.execPath,
      ['--import', join(dir, 'register.mjs'), '--input-type=module', '-e', script],
      { timeout: 20_000 },
    )
    const lines = stdout.trim().split('\n')
    return {
      stdout: lines.filter((line) => !line.startsWith('loaded ')).join('\n'),
      loaded: lines.filter((line) => line.startsWith('loaded ')),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('a relay without MSK never loads the AWS SDK (the packages are imported on first use only)', async () => {
  const { stdout, loaded } = await modulesLoaded(
    `const { KafkaSink } = await import(${built('sinks/kafka/kafka-sink.js')})
     await import(${built('sinks/kafka/client.js')})
     new KafkaSink({ kind: 'kafka', brokers: ['127.0.0.1:9'], tls: false }, { dlqTopic: 'd', topicPartitions: 1 })
     console.log('constructed')`,
    /aws/,
  )
  expect(loaded).toEqual([])
  expect(stdout).toBe('constructed')
})

test('importing @factlib/relay and relaying to another sink never loads the Kafka client (60 MiB)', async () => {
  const { stdout, loaded } = await modulesLoaded(
    `const relay = await import(${built('index.js')})
     const config = relay.parseConfig({ DATABASE_URL: 'postgres://relay@db/app', FACTLIB_SINK: 'stdout' })
     const sink = relay.createSink(config, { log: relay.jsonLogger(), metrics: new relay.RelayMetrics() })
     await sink.start()
     await import(${built('sinks/kafka/checks.js')})
     console.log(sink.kind)`,
    /@platformatic\/kafka/,
  )
  expect(loaded).toEqual([])
  expect(stdout).toBe('stdout')
})

test.skipIf(kafkaUnavailable())(
  'without the optional native @node-rs/crc32 the client checksums in WebAssembly, and the broker accepts the batches',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'factlib-crc-'))
    try {
      // The client loads @node-rs/crc32 with require() and falls back when it is missing, as on a platform
      // whose prebuilt binary is not installed.
      const hide = join(dir, 'hide-crc32.cjs')
      await writeFile(
        hide,
        `const Module = require('node:module')
         const resolve = Module._resolveFilename
         Module._resolveFilename = function (request, ...rest) {
           if (request === '@node-rs/crc32') throw Object.assign(new Error('hidden'), { code: 'MODULE_NOT_FOUND' })
           return resolve.call(this, request, ...rest)
         }`,
      )
      const topic = uniqueName('wasm-crc')
      const script = `
        const { KafkaSink } = await import(${built('sinks/kafka/kafka-sink.js')})
        const sink = new KafkaSink(
          { kind: 'kafka', brokers: ${JSON.stringify(kafkaBrokers())}, tls: false, compression: 'none' },
          { dlqTopic: ${JSON.stringify(uniqueName('dlq'))}, topicPartitions: 1 },
        )
        await sink.start()
        const record = (value) => ({ topic: ${JSON.stringify(topic)}, key: 'k', value: Buffer.from(value), headers: { h: 'v' } })
        await sink.send([record('one'), record('two')], new AbortController().signal)
        await sink.close()
        const { crc32c } = await import('@platformatic/kafka')
        console.log(crc32c.name)`
      const { stdout } = await run(
        process.execPath,
        ['--require', hide, '--input-type=module', '-e', script],
        {
          timeout: 30_000,
          cwd: fileURLToPath(new URL('..', import.meta.url)),
        },
      )
      // The client's own names: nativeCRC32C for @node-rs/crc32, crc32c for @platformatic/wasm-utils.
      expect(stdout.trim()).toBe('crc32c')
      expect((await readTopic(kafkaBrokers(), topic)).map(valueText)).toEqual(['one', 'two'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
)
