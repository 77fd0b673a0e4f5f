import type { neonConfig } from '@neondatabase/serverless'
import { afterAll, beforeAll, inject } from 'vitest'
import ws from 'ws'
import { type KafkaBroker, type KafkaOptions, startKafka } from './kafka.js'
import { createDatabase, startPostgres, type TestDatabase, type TestPostgres } from './postgres.js'

// One port probe for every test: @factlib/dev's, which `factlib dev` and the embedded PostgreSQL use.
export { freePort, probePort } from '@factlib/dev/embedded-postgres'
export { ensureKafkaJars, KAFKA_VERSION, type KafkaBroker, startKafka } from './kafka.js'
export { uniqueName } from './names.js'
export {
  createDatabase,
  endPool,
  startPostgres,
  type TestDatabase,
  type TestPostgres,
  withClient,
} from './postgres.js'
export { waitFor } from './wait.js'

/** Superuser URL of the run's shared PostgreSQL. */
export const serverUrl = (): string => inject('databaseUrl')

/** The run's Kafka brokers; empty when Kafka is unavailable (only possible outside CI). */
export const kafkaBrokers = (): string[] => inject('kafkaBrokers')

/** Why Kafka is unavailable, or '' — for `describe.skipIf(kafkaUnavailable())`. */
export const kafkaUnavailable = (): string => inject('kafkaUnavailable')

/** Neon driver settings that route it to the run's PostgreSQL through the local bridges. */
export const neonLocal = () => ({ wsProxy: inject('neonWsProxy'), fetchEndpoint: inject('neonHttpEndpoint') })

/**
 * Route Neon's driver in this test process (its `neonConfig` is global) to the run's PostgreSQL: the
 * WebSocket bridge for `Pool`/`Client`, the local SQL-over-HTTP endpoint for `neon()`.
 */
export function routeNeonToHarness(config: typeof neonConfig): void {
  const local = neonLocal()
  config.webSocketConstructor = ws
  config.wsProxy = local.wsProxy
  config.useSecureWebSocket = false
  config.pipelineConnect = false
  config.fetchEndpoint = local.fetchEndpoint
}

/** A fresh database on the shared server for the calling test file, dropped after its tests. */
export async function freshDatabase(prefix = 'db'): Promise<TestDatabase> {
  const database = await createDatabase(serverUrl(), prefix)
  afterAll(() => database.drop())
  return database
}

/**
 * A PostgreSQL of the calling file (or describe block) alone, for tests that stop, restart or reconfigure
 * it: started before its tests, destroyed after. Its properties are readable once the tests run.
 */
export function privatePostgres(options: Parameters<typeof startPostgres>[0] = {}): TestPostgres {
  let server: TestPostgres | undefined
  beforeAll(async () => {
    server = await startPostgres(options)
  })
  afterAll(() => server?.destroy())
  const started = () => server ?? notStarted('PostgreSQL')
  return {
    get url() {
      return started().url
    },
    get port() {
      return started().port
    },
    get dataDir() {
      return started().dataDir
    },
    start: () => started().start(),
    stop: () => started().stop(),
    destroy: () => started().destroy(),
  }
}

/** A Kafka broker of the calling file (or describe block) alone, like {@link privatePostgres}. */
export function privateKafka(options: KafkaOptions = {}): KafkaBroker {
  let broker: KafkaBroker | undefined
  beforeAll(async () => {
    broker = await startKafka(options)
  })
  afterAll(() => broker?.destroy())
  const started = () => broker ?? notStarted('Kafka')
  return {
    get brokers() {
      return started().brokers
    },
    get port() {
      return started().port
    },
    get dir() {
      return started().dir
    },
    get version() {
      return started().version
    },
    get pid() {
      return started().pid
    },
    start: () => started().start(),
    stop: (timeoutMs?: number) => started().stop(timeoutMs),
    kill: () => started().kill(),
    destroy: () => started().destroy(),
  }
}

function notStarted(what: string): never {
  throw new Error(`the private ${what} is started in beforeAll: use it inside a test or hook`)
}
