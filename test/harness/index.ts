import { afterAll, inject } from 'vitest'
import { createDatabase, type TestDatabase } from './postgres.js'

export { ensureKafkaJars, KAFKA_VERSION, type KafkaBroker, startKafka } from './kafka.js'
export { uniqueName } from './names.js'
export {
  createDatabase,
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

/** A fresh database on the shared server for the calling test file, dropped after its tests. */
export async function freshDatabase(prefix = 'db'): Promise<TestDatabase> {
  const database = await createDatabase(serverUrl(), prefix)
  afterAll(() => database.drop())
  return database
}
