import type { TestProject } from 'vitest/node'
import { type KafkaBroker, PrerequisiteError, startKafka } from './kafka.js'
import { startNeonHttpEndpoint } from './neon-http.js'
import { startNeonWsBridge } from './neon-ws-bridge.js'
import { startPostgres, type TestPostgres } from './postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL (`wal_level=logical`). */
    databaseUrl: string
    /** The run's Kafka brokers, or empty when Kafka could not start outside CI (see `kafkaUnavailable`). */
    kafkaBrokers: string[]
    /** Why Kafka is unavailable; tests that need it are skipped with this reason (outside CI only). */
    kafkaUnavailable: string
    /** `host:port` of the WebSocket-to-TCP bridge for `neonConfig.wsProxy`. */
    neonWsProxy: string
    /** URL of the local Neon SQL-over-HTTP endpoint for `neonConfig.fetchEndpoint`. */
    neonHttpEndpoint: string
  }
}

const isCI = process.env.CI === 'true' || process.env.CI === '1'
const log = (message: string) => process.stderr.write(`[harness] ${message}\n`)

/**
 * One PostgreSQL and one Kafka broker for the whole run, plus Neon's two local bridges. Each can be
 * replaced by an existing service: FACTLIB_TEST_DATABASE_URL, FACTLIB_TEST_KAFKA_BROKERS.
 */
export default async function setup(project: TestProject) {
  const started = Date.now()
  const stops: Array<() => Promise<void>> = []
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`teardown: ${error}`))
  }
  try {
    const [postgres, kafka] = await Promise.allSettled([databaseUrl(), kafkaBrokers()])
    if (kafka.status === 'fulfilled' && kafka.value.broker) {
      const broker = kafka.value.broker
      stops.push(() => broker.destroy())
    }
    if (postgres.status === 'fulfilled' && postgres.value.server) {
      const server = postgres.value.server
      stops.push(() => server.destroy())
    }
    if (postgres.status === 'rejected') throw postgres.reason
    if (kafka.status === 'rejected') {
      const reason = kafka.reason instanceof Error ? kafka.reason.message : String(kafka.reason)
      if (isCI || !(kafka.reason instanceof PrerequisiteError)) throw kafka.reason
      log(`Kafka unavailable, Kafka tests will be skipped: ${reason}`)
      project.provide('kafkaBrokers', [])
      project.provide('kafkaUnavailable', reason)
    } else {
      project.provide('kafkaBrokers', kafka.value.brokers)
      project.provide('kafkaUnavailable', '')
    }
    const url = postgres.value.url
    project.provide('databaseUrl', url)

    const target = new URL(url)
    const bridge = await startNeonWsBridge({ host: target.hostname, port: Number(target.port || 5432) })
    stops.push(() => bridge.close())
    project.provide('neonWsProxy', bridge.wsProxy)
    const http = await startNeonHttpEndpoint(url)
    stops.push(() => http.close())
    project.provide('neonHttpEndpoint', http.url)
    log(`ready in ${Date.now() - started} ms`)
  } catch (error) {
    await teardown()
    throw error
  }
  return teardown
}

async function databaseUrl(): Promise<{ url: string; server?: TestPostgres }> {
  const given = process.env.FACTLIB_TEST_DATABASE_URL
  if (given) return { url: given }
  const started = Date.now()
  const server = await startPostgres()
  log(`PostgreSQL ready in ${Date.now() - started} ms on port ${server.port}`)
  return { url: server.url, server }
}

async function kafkaBrokers(): Promise<{ brokers: string[]; broker?: KafkaBroker }> {
  const given = process.env.FACTLIB_TEST_KAFKA_BROKERS
  if (given) return { brokers: given.split(',').map((broker) => broker.trim()) }
  const started = Date.now()
  const broker = await startKafka({
    log: (line) => (/ ERROR /.test(line) ? log(`kafka: ${line}`) : undefined),
  })
  log(`Kafka ${broker.version} ready in ${Date.now() - started} ms on port ${broker.port}`)
  return { brokers: broker.brokers, broker }
}
