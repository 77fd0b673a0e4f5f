import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { silentLogger } from '../src/observability/log.js'
import { kafkaClientSettings, kafkajsLogCreator } from '../src/sinks/kafka/client.js'
import { collectingLogger, plainConfig } from './support/sink.js'

const options = { log: silentLogger }

describe('kafkaClientSettings', () => {
  test('PLAIN and SCRAM pass the credentials to kafkajs; TLS follows KAFKA_TLS', async () => {
    const plain = await kafkaClientSettings(
      plainConfig(['b:9096'], { sasl: 'plain', username: 'relay', password: 'pw', tls: true }),
      options,
    )
    expect(plain.settings).toMatchObject({
      brokers: ['b:9096'],
      ssl: true,
      sasl: { mechanism: 'plain', username: 'relay', password: 'pw' },
    })
    for (const mechanism of ['scram-sha-256', 'scram-sha-512'] as const) {
      const { settings } = await kafkaClientSettings(
        plainConfig(['b:9096'], { sasl: mechanism, username: 'relay', password: 'pw', tls: true }),
        options,
      )
      expect(settings.sasl).toEqual({ mechanism, username: 'relay', password: 'pw' })
    }
    const { settings } = await kafkaClientSettings(plainConfig(['b:9092']), options)
    expect(settings.ssl).toBe(false)
    expect(settings.sasl).toBeUndefined()
  })

  test('extra TLS options (a private CA) replace `ssl: true`', async () => {
    const { settings } = await kafkaClientSettings(plainConfig(['b:9094'], { tls: true }), {
      ...options,
      tlsOptions: { ca: 'PEM' },
    })
    expect(settings.ssl).toEqual({ ca: 'PEM' })
  })

  test('IAM is OAUTHBEARER with a token provider; without a region to sign for it fails naming what to set', async () => {
    const iam = plainConfig(['b:9098'], { sasl: 'iam', tls: true })
    const { settings } = await kafkaClientSettings(iam, { ...options, awsRegion: 'eu-central-1' })
    const sasl = settings.sasl as { mechanism: string; oauthBearerProvider?: unknown }
    expect(sasl.mechanism).toBe('oauthbearer')
    expect(typeof sasl.oauthBearerProvider).toBe('function')
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION }
    delete process.env.AWS_REGION
    delete process.env.AWS_DEFAULT_REGION
    try {
      await expect(kafkaClientSettings(iam, options)).rejects.toMatchObject({
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

  test("kafkajs' log lines become JSON logger calls; its errors are warnings, held back when they repeat", () => {
    const { logger, lines } = collectingLogger()
    const log = kafkajsLogCreator(logger)(4)
    const entry = (level: number, message: string) => ({
      namespace: 'Connection',
      level,
      label: '',
      log: { timestamp: 'now', logger: 'kafkajs', message, broker: 'b:9092' },
    })
    log(entry(1, 'Connection error: ECONNREFUSED'))
    log(entry(1, 'Connection error: ECONNREFUSED'))
    log(entry(4, 'Starting'))
    expect(lines).toEqual([
      {
        level: 'warn',
        message: 'Connection error: ECONNREFUSED',
        fields: { component: 'kafkajs', namespace: 'Connection', broker: 'b:9092' },
      },
      {
        level: 'info',
        message: 'Starting',
        fields: { component: 'kafkajs', namespace: 'Connection', broker: 'b:9092' },
      },
    ])
  })
})

test('a relay without MSK never loads the AWS SDK (the packages are imported on first use only)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'factlib-lazy-'))
  try {
    const hook = join(dir, 'hook.mjs')
    await writeFile(
      hook,
      `export async function resolve(specifier, context, next) {
         const result = await next(specifier, context)
         if (/aws/.test(result.url)) process.stdout.write('loaded ' + result.url + '\\n')
         return result
       }`,
    )
    await writeFile(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`,
    )
    // The built package, as the CLI loads it (npm test builds first).
    const dist = fileURLToPath(new URL('../dist/', import.meta.url))
    const script = `
      const { KafkaSink } = await import(${JSON.stringify(pathToFileURL(join(dist, 'sinks/kafka/kafka-sink.js')).href)})
      await import(${JSON.stringify(pathToFileURL(join(dist, 'sinks/kafka/client.js')).href)})
      new KafkaSink({ kind: 'kafka', brokers: ['127.0.0.1:9'], tls: false }, { dlqTopic: 'd', topicPartitions: 1 })
      console.log('constructed')`
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', join(dir, 'register.mjs'), '--input-type=module', '-e', script],
      { timeout: 20_000 },
    )
    expect(stdout.trim()).toBe('constructed')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
