import { createEmitter } from '@factlib/emit'
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
import { relayEnv, runCli, startRelayProcess } from '../../../test/harness/cli.js'
import {
  freshDatabase,
  type KafkaBroker,
  kafkaUnavailable,
  uniqueName,
  waitFor,
  withClient,
} from '../../../test/harness/index.js'
import { readTopic } from '../../../test/harness/kafka-reader.js'
import type { StatusReport } from '../src/cli/commands/status.js'
import { METRICS } from '../src/observability/metric-names.js'
import type { RelayStatus } from '../src/relay/relay-state.js'
import { startKafkaWithPorts } from './support/sink.js'

const STALL_SECONDS = 2

/**
 * A private broker with ACLs on (StandardAuthorizer): PLAINTEXT for the test's admin (a super user) and
 * SASL_PLAINTEXT with PLAIN for the relay's restricted `relay` user.
 */
describe.skipIf(kafkaUnavailable())('a topic the relay may not write to', () => {
  let broker: KafkaBroker
  let admin: Admin
  let saslPort: number
  beforeAll(async () => {
    const started = await startKafkaWithPorts(1, ([port]) => ({
      listeners: `PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controllerPort},SASL_PLAINTEXT://127.0.0.1:${port}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:${port}`,
      'listener.security.protocol.map':
        'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config':
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_relay="relay-secret";',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
    }))
    broker = started.broker
    saslPort = started.ports[0] as number
    admin = new Kafka({
      clientId: 'relay-stall-test',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
    }).admin()
    await admin.connect()
  })
  afterAll(async () => {
    await admin?.disconnect()
    await broker?.destroy()
  })

  test('stalls the relay visibly after FACTLIB_STALL_SECONDS (/readyz, /metrics, factlib status), and it recovers in order', async () => {
    const db = await freshDatabase()
    const source = uniqueName('stalled')
    const topic = `${source}.orders`
    const acl = (
      operation: number,
      permissionType: number,
      resourceName: string,
      resourcePatternType: number,
    ) => ({
      resourceType: AclResourceTypes.TOPIC,
      resourceName,
      resourcePatternType,
      principal: 'User:relay',
      host: '*',
      operation,
      permissionType,
    })
    // The relay may create, describe and write every topic of its source and its dead-letter topic…
    await admin.createAcls({
      acl: [AclOperationTypes.CREATE, AclOperationTypes.DESCRIBE, AclOperationTypes.WRITE].map((operation) =>
        acl(operation, AclPermissionTypes.ALLOW, source, ResourcePatternTypes.PREFIXED),
      ),
    })
    // …but writing to this one topic is denied: every produce to it fails, and is retried for ever.
    const denied = acl(AclOperationTypes.WRITE, AclPermissionTypes.DENY, topic, ResourcePatternTypes.LITERAL)
    await admin.createAcls({ acl: [denied] })
    const slot = uniqueName('slot')
    const relay = startRelayProcess(
      relayEnv(db.url, {
        FACTLIB_SLOT: slot,
        FACTLIB_DLQ_TOPIC: `${source}-dlq`,
        KAFKA_BROKERS: `127.0.0.1:${saslPort}`,
        KAFKA_SASL: 'plain',
        KAFKA_USERNAME: 'relay',
        KAFKA_PASSWORD: 'relay-secret',
        KAFKA_TLS: 'false',
        FACTLIB_STALL_SECONDS: String(STALL_SECONDS),
      }),
    )
    await relay.waitForLog('streaming')
    const port = await relay.httpPort()
    const facts = createEmitter({ source })
    const emitted: Array<{ key: string; value: string }> = []
    const emit = (round: number) =>
      withClient(db.url, async (client) => {
        for (let transaction = 0; transaction < 3; transaction++) {
          const batch = ['a', 'b'].flatMap((key) =>
            [0, 1].map((index) => ({ key, value: `${round}-${transaction}-${key}${index}` })),
          )
          emitted.push(...batch)
          await facts.emit(
            client,
            batch.map(({ key, value }) => ({
              aggregateType: 'orders',
              aggregateId: key,
              type: 't',
              data: value,
            })),
          )
        }
      })
    const emittedAt = Date.now()
    await emit(0)

    const readyz = async () => {
      const response = await relay.get('/readyz')
      return {
        status: response.status,
        body: JSON.parse(response.body) as RelayStatus & { reasons: string[] },
      }
    }
    const stalled = await waitFor(
      'the relay to report the stall',
      async () => {
        const answer = await readyz()
        const { sinkStallSeconds, sinkStalled, reasons } = answer.body
        expect(sinkStalled).toBe(sinkStallSeconds > STALL_SECONDS)
        if (reasons.some((reason) => reason.includes('is stalled')))
          expect(sinkStallSeconds).toBeGreaterThan(STALL_SECONDS)
        return sinkStalled ? answer : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const detectedAfter = (Date.now() - emittedAt) / 1000
    expect(stalled.status).toBe(503)
    expect(stalled.body.sinkErrorKind).toBe('topic_authorization_failed')
    expect(stalled.body.reasons).toContainEqual(
      expect.stringMatching(
        /^the kafka sink is stalled: it has not acknowledged a batch for \d+ s \(FACTLIB_STALL_SECONDS is 2\); last error: topic_authorization_failed\./,
      ),
    )
    expect(stalled.body.relayed).toBe(0)
    expect(detectedAfter).toBeGreaterThan(STALL_SECONDS)

    const metrics = (await relay.get('/metrics')).body
    const line = new RegExp(
      `^${METRICS.sinkStallSeconds.prometheus}\\{kind="topic_authorization_failed"\\} ([\\d.]+)$`,
      'm',
    ).exec(metrics)
    expect(Number(line?.[1])).toBeGreaterThan(STALL_SECONDS)
    expect(metrics).toMatch(
      new RegExp(
        `^${METRICS.produceErrors.prometheus}\\{kind="topic_authorization_failed"\\} [1-9]\\d*$`,
        'm',
      ),
    )
    const logged = await relay.waitForLog(
      'the sink is stalled: no batch acknowledged; every source waits behind it',
    )
    expect(logged).toMatchObject({
      level: 'error',
      sink: 'kafka',
      lastErrorKind: 'topic_authorization_failed',
    })

    const statusArgs = [
      'status',
      '--database-url',
      db.url,
      '--slot',
      slot,
      '--relay-url',
      `http://127.0.0.1:${port}`,
    ]
    const json = await runCli([...statusArgs, '--json'])
    expect(json.code, json.stderr).toBe(1)
    const report = JSON.parse(json.stdout) as StatusReport
    expect(report.relay).toMatchObject({
      reachable: true,
      ready: false,
      sink: { stalled: true, lastErrorKind: 'topic_authorization_failed' },
    })
    expect(report.relay?.sink?.stallSeconds).toBeGreaterThan(STALL_SECONDS)
    expect(report.relay?.reasons).toContainEqual(expect.stringContaining('the kafka sink is stalled'))
    const terminal = await runCli(statusArgs)
    expect(terminal.code).toBe(1)
    expect(terminal.stdout).toMatch(
      /sink\s+STALLED: no batch acknowledged for [\d.]+ s \(last error: topic_authorization_failed\)/,
    )

    // The cause removed: the relay delivers what waited, in order, and is ready again; nothing was skipped.
    await admin.deleteAcls({ filters: [denied] })
    const recoveredAt = Date.now()
    await waitFor(
      'ready again with every fact relayed',
      async () => {
        const answer = await readyz()
        return answer.status === 200 && answer.body.relayed === emitted.length ? answer : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const recoveredAfter = (Date.now() - recoveredAt) / 1000
    await relay.waitForLog('the sink acknowledges again')
    await emit(1)
    await waitFor('the later facts', async () => (await readyz()).body.relayed === emitted.length)
    expect((await readyz()).body).toMatchObject({
      sinkStalled: false,
      sinkStallSeconds: 0,
      sinkErrorKind: null,
    })

    const records = await readTopic(broker.brokers, topic)
    const seen = new Set<string>()
    const delivered = records.filter((record) => {
      const id = record.headers.ce_id ?? ''
      if (seen.has(id)) return false
      seen.add(id)
      return true
    })
    expect(delivered).toHaveLength(emitted.length)
    for (const key of ['a', 'b'])
      expect(
        delivered.filter((record) => record.key === key).map((record) => JSON.parse(String(record.value))),
      ).toEqual(emitted.filter((fact) => fact.key === key).map((fact) => fact.value))
    console.info(
      `kafka: stall reported ${detectedAfter.toFixed(1)} s after the facts were emitted (FACTLIB_STALL_SECONDS=${STALL_SECONDS}); ` +
        `ready ${recoveredAfter.toFixed(1)} s after the deny ACL was removed; ${records.length} records for ${emitted.length} facts`,
    )
    expect(await relay.stop()).toBe(0)
  })
})
