import { execFile } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Admin,
  Kafka,
  logLevel,
  ResourcePatternTypes,
} from 'kafkajs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type KafkaBroker, kafkaUnavailable, uniqueName, waitFor } from '../../../test/harness/index.js'
import { readTopic, valueText } from '../../../test/harness/kafka-reader.js'
import { type KafkaConfig, parseConfig } from '../src/config/config.js'
import { checkKafka } from '../src/sinks/kafka/checks.js'
import { KafkaSink, type KafkaSinkOptions } from '../src/sinks/kafka/kafka-sink.js'
import { collectingLogger, fact, plainConfig, startKafkaWithPorts } from './support/sink.js'

const run = promisify(execFile)
const STORE_PASSWORD = 'factlib-test-store'

/**
 * One private broker with ACLs on (StandardAuthorizer) and three listeners: PLAINTEXT for the harness and
 * the tests' admin (a super user), SASL_PLAINTEXT with PLAIN for a restricted `relay` user, and SASL_SSL
 * with OAUTHBEARER (unsecured JWTs) on a certificate made with keytool for this run.
 */
describe.skipIf(kafkaUnavailable())('KafkaSink authentication and authorization', () => {
  let broker: KafkaBroker
  let admin: Admin
  let dir: string
  let ca: string
  let saslPort: number
  let tlsPort: number
  const sinks: KafkaSink[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'factlib-tls-'))
    const keystore = join(dir, 'broker.p12')
    const keytool = ['-storetype', 'PKCS12', '-keystore', keystore, '-storepass', STORE_PASSWORD]
    await run('keytool', [
      '-genkeypair',
      '-alias',
      'broker',
      '-keyalg',
      'EC',
      '-groupname',
      'secp256r1',
      '-validity',
      '2',
      '-dname',
      'CN=localhost',
      '-ext',
      'SAN=ip:127.0.0.1,dns:localhost',
      '-keypass',
      STORE_PASSWORD,
      ...keytool,
    ])
    await run('keytool', [
      '-exportcert',
      '-rfc',
      '-alias',
      'broker',
      '-file',
      join(dir, 'broker.pem'),
      ...keytool,
    ])
    ca = await readFile(join(dir, 'broker.pem'), 'utf8')
    const started = await startKafkaWithPorts(2, ([saslPort, tlsPort]) => ({
      listeners: `PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort},SASL_SSL://127.0.0.1:${tlsPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:${saslPort},SASL_SSL://127.0.0.1:${tlsPort}`,
      'listener.security.protocol.map':
        'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
      'sasl.enabled.mechanisms': 'PLAIN,OAUTHBEARER',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config':
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_relay="relay-secret";',
      'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config':
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";',
      // Sessions end with their token (or after a minute): the client must re-authenticate with a new one.
      'listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms': 60_000,
      'listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class':
        'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler',
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': keystore,
      'ssl.keystore.password': STORE_PASSWORD,
      'ssl.key.password': STORE_PASSWORD,
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS;User:admin',
      'allow.everyone.if.no.acl.found': 'false',
    }))
    broker = started.broker
    ;[saslPort, tlsPort] = started.ports as [number, number]
    admin = new Kafka({
      clientId: 'factlib-sink-test',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
    }).admin()
    await admin.connect()
  })
  afterAll(async () => {
    for (const sink of sinks) await sink.close()
    await admin?.disconnect()
    await broker?.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const relayUser = (password = 'relay-secret'): KafkaConfig =>
    plainConfig([`127.0.0.1:${saslPort}`], { sasl: 'plain', username: 'relay', password })
  const newSink = (config: KafkaConfig, options: Partial<KafkaSinkOptions> = {}) => {
    const sink = new KafkaSink(config, {
      dlqTopic: uniqueName('dlq'),
      topicPartitions: 2,
      retry: { initialRetryTime: 50, maxRetryTime: 300 },
      ...options,
    })
    sinks.push(sink)
    return sink
  }
  const allow = (prefix: string, operations: number[]) =>
    admin.createAcls({
      acl: operations.map((operation) => ({
        resourceType: AclResourceTypes.TOPIC,
        resourceName: prefix,
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        principal: 'User:relay',
        host: '*',
        operation,
        permissionType: AclPermissionTypes.ALLOW,
      })),
    })

  test('a refused topic creation makes the sink not ready, naming the topic and permission, until it is granted', async () => {
    const prefix = uniqueName('authz')
    await allow(prefix, [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE])
    const errors: string[] = []
    const { logger, lines } = collectingLogger()
    const sink = newSink(relayUser(), { log: logger, onProduceError: (kind) => errors.push(kind) })
    await sink.start()
    const topic = `${prefix}.orders`
    let delivered = false
    const delivery = sink.send(
      [fact(topic, 'o-1', 'created'), fact(topic, 'o-1', 'paid')],
      new AbortController().signal,
    )
    void delivery.then(
      () => {
        delivered = true
      },
      () => {},
    )

    await waitFor(
      'several refused attempts',
      () => errors.filter((kind) => kind === 'topic_refused').length >= 3,
    )
    const readiness = sink.readiness()
    expect(readiness.ready).toBe(false)
    const reason = readiness.ready ? '' : readiness.reason
    expect(reason).toContain(`"${topic}"`)
    expect(reason).toContain('TOPIC_AUTHORIZATION_FAILED')
    expect(reason).toContain('kafka-cluster:CreateTopic')
    const loud = lines.filter((line) => line.level === 'error' && line.fields.topic === topic)
    expect(loud).toHaveLength(1)
    expect(loud[0]?.message).toContain('CREATE')
    expect(delivered).toBe(false)

    // Closing the sink ends such a retry loop too.
    const other = newSink(relayUser())
    await other.start()
    const abandoned = other.send([fact(`${prefix}.other`, 'k', 'v')], new AbortController().signal)
    await waitFor('the other sink to be refused', () => other.readiness().ready === false)
    await other.close()
    await expect(abandoned).rejects.toMatchObject({ code: 'SINK_CLOSED' })

    await allow(prefix, [AclOperationTypes.CREATE])
    await delivery
    expect(sink.readiness()).toEqual({ ready: true })
    expect((await readTopic(broker.brokers, topic)).map(valueText)).toEqual(['created', 'paid'])
  })

  test("doctor: a principal that may not create topics fails 'Kafka topics can exist' with the grant, and nothing is created", async () => {
    const dlq = uniqueName('doctor')
    const config = parseConfig({
      DATABASE_URL: 'postgres://relay@db:5432/app',
      KAFKA_BROKERS: `127.0.0.1:${saslPort}`,
      KAFKA_SASL: 'plain',
      KAFKA_USERNAME: 'relay',
      KAFKA_PASSWORD: 'relay-secret',
      KAFKA_TLS: 'false',
      FACTLIB_DLQ_TOPIC: dlq,
    })
    const byId = async () => Object.fromEntries((await checkKafka(config)).map((check) => [check.id, check]))
    const refused = await byId()
    expect(refused.kafka).toMatchObject({ status: 'pass' })
    expect(refused.kafka_topics).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('kafka-cluster:CreateTopic'),
    })
    expect(refused.kafka_topics?.fix).toContain('TOPIC_AUTHORIZATION_FAILED')
    await allow(dlq, [AclOperationTypes.CREATE, AclOperationTypes.DESCRIBE])
    expect((await byId()).kafka_topics).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining(`dead-letter topic ${dlq} will be created`),
    })
    // Asked with validateOnly: the topic does not exist afterwards.
    expect(await admin.listTopics()).not.toContain(dlq)
  })

  test('start() with a wrong password fails with KAFKA_AUTH and never shows the password', async () => {
    const sink = newSink(relayUser('not-the-relay-secret'), { startTimeoutMs: 5_000 })
    const error = await sink.start().then(
      () => undefined,
      (error: unknown) => error as Error & { code?: string },
    )
    expect(error?.code).toBe('KAFKA_AUTH')
    expect(error?.message).toContain('KAFKA_USERNAME ("relay")')
    expect(error?.message).not.toContain('not-the-relay-secret')
  })

  test('MSK IAM code path: OAUTHBEARER over TLS with a stub token source delivers, reusing the token', async () => {
    let signed = 0
    const iamTokens = async () => {
      signed += 1
      return unsecuredToken(600)
    }
    const config: KafkaConfig = { ...plainConfig([`127.0.0.1:${tlsPort}`]), sasl: 'iam', tls: true }
    const sink = newSink(config, { tlsOptions: { ca }, iamTokens })
    await sink.start()
    const topic = uniqueName('iam')
    await sink.send([fact(topic, 'k', 'over-tls')], new AbortController().signal)
    expect((await readTopic(broker.brokers, topic)).map(valueText)).toEqual(['over-tls'])
    expect(signed).toBe(1)
  })

  test('MSK IAM token refresh: the connections outlive their tokens, re-authenticating with a new one each time', async () => {
    let signed = 0
    // Tokens of 4 s where MSK's last 15 minutes: the client re-authenticates at 80 % of the session.
    const iamTokens = async () => {
      signed += 1
      return unsecuredToken(4)
    }
    const errors: string[] = []
    const config: KafkaConfig = { ...plainConfig([`127.0.0.1:${tlsPort}`]), sasl: 'iam', tls: true }
    const sink = newSink(config, {
      tlsOptions: { ca },
      iamTokens,
      onProduceError: (kind) => errors.push(kind),
    })
    // Connections opened, from the client's diagnostics channel: a session renewed is not a new one.
    let connects = 0
    const onConnect = () => {
      connects += 1
    }
    subscribe('tracing:plt:kafka:connections:connects:start', onConnect)
    await sink.start()
    const topic = uniqueName('reauth')
    const sent: string[] = []
    for (const until = Date.now() + 10_000; Date.now() < until; ) {
      const value = `r${sent.length}`
      await sink.send([fact(topic, 'k', value)], new AbortController().signal)
      sent.push(value)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    unsubscribe('tracing:plt:kafka:connections:connects:start', onConnect)
    expect(errors).toEqual([])
    // The same connections (one each for the admin and the producer), renewed with new tokens: measured
    // 2 connections and 8 tokens in 10 s.
    expect(signed).toBeGreaterThanOrEqual(connects + 2)
    expect((await readTopic(broker.brokers, topic)).map(valueText)).toEqual(sent)
  })

  test('an untrusted broker certificate fails start() with KAFKA_UNREACHABLE and a TLS hint', async () => {
    const config: KafkaConfig = { ...plainConfig([`127.0.0.1:${tlsPort}`]), sasl: 'iam', tls: true }
    const sink = newSink(config, {
      startTimeoutMs: 1_000,
      iamTokens: async () => ({ token: 'unused', expiryTime: Date.now() + 600_000 }),
    })
    await expect(sink.start()).rejects.toMatchObject({
      code: 'KAFKA_UNREACHABLE',
      message: expect.stringContaining('NODE_EXTRA_CA_CERTS'),
    })
  })
})

/** An unsecured JWT for the broker's test validator, as the MSK IAM signer's result: valid `seconds` more. */
function unsecuredToken(seconds: number): { token: string; expiryTime: number } {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return {
    token: `${part({ alg: 'none' })}.${part({ sub: 'admin', iat: now, exp: now + seconds })}.`,
    expiryTime: (now + seconds) * 1000,
  }
}
