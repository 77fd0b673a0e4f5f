import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'
import { startKafka } from '../test/harness/kafka.js'
import { createTopics } from '../test/harness/kafka-reader.js'
import { startPostgres, withClient } from '../test/harness/postgres.js'

/** PostgreSQL as in production: every commit flushed (the tests turn fsync off), no checkpoint mid-run. */
const POSTGRES_SETTINGS: Record<string, string | number> = {
  ...{ fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', wal_level: 'logical' },
  ...{ wal_compression: 'off', shared_buffers: '512MB', max_wal_size: '8GB', checkpoint_timeout: '30min' },
  max_connections: 200,
}
/** Kafka's own start-script JVM defaults; the harness's fast-start C1-only options run the broker slower. */
const KAFKA_JVM_OPTIONS = [
  ...['-Xms1g', '-Xmx1g', '-XX:-UseSerialGC', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20'],
  ...['-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-XX:TieredStopAtLevel=4'],
]
export const KAFKA_PROPERTIES: Record<string, string | number> = {
  'num.partitions': 6,
  'message.max.bytes': 1048588,
}

export type Services = Awaited<ReturnType<typeof startServices>>

/** What every benchmark's `measure` gets. */
export interface BenchContext {
  services: Services
  /** A smoke check: small sizes, one repeat; the figures mean little. */
  quick: boolean
  /** Only these arms of the benchmarks that have arms (`--arms`). */
  arms?: string[]
}

/** Start PostgreSQL (durable settings) and Kafka (Kafka's own JVM defaults) for benchmarks. */
export async function startServices() {
  const postgres = await startPostgres({ settings: POSTGRES_SETTINGS })
  const options = { jvmOptions: KAFKA_JVM_OPTIONS, properties: KAFKA_PROPERTIES, timeoutMs: 120_000 }
  const kafka = await startKafka(options).catch(async (error: unknown) => {
    await postgres.destroy()
    throw error
  })
  const show = (client: pg.Client) => client.query<{ server_version: string }>('show server_version')
  const postgresVersion = (await withClient(postgres.url, show)).rows[0]?.server_version ?? 'unknown'
  log(`PostgreSQL ${postgresVersion}, Kafka ${kafka.version} at ${kafka.brokers.join(',')}`)
  const data = join(kafka.dir, 'data')
  return {
    kafka,
    url: postgres.url,
    postgresVersion,
    settings: { postgres: POSTGRES_SETTINGS, kafkaJvm: KAFKA_JVM_OPTIONS, kafka: KAFKA_PROPERTIES },
    /** The postmaster: every PostgreSQL process is under it. */
    postmasterPid: Number(readFileSync(join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    /** Bytes the broker stores for a topic: the sizes of its partitions' log segments. */
    topicBytes: (topic: string) =>
      readdirSync(data)
        .filter((partition) => partition.startsWith(`${topic}-`))
        .flatMap((partition) => readdirSync(join(data, partition)).map((file) => join(data, partition, file)))
        .reduce((sum, file) => sum + (file.endsWith('.log') ? statSync(file).size : 0), 0),
    async stop() {
      await kafka.destroy().catch(() => {})
      await postgres.destroy().catch(() => {})
    },
  }
}

/** Create topics (6 partitions) where missing, and wait for their leaders. */
export const ensureTopics = (brokers: string[], topics: string[]) => createTopics(brokers, topics, 6)

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Progress on stderr; the results go to files. */
export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)
