import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { type KafkaBroker, startKafka } from '../test/harness/kafka.js'
import { startPostgres, type TestPostgres, withClient } from '../test/harness/postgres.js'

/**
 * PostgreSQL as a production server would run it: every commit flushed to disk (the harness turns fsync
 * off for fast tests). Checkpoints are spaced out so none lands inside a measured window.
 */
export const POSTGRES_SETTINGS: Record<string, string | number> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  wal_level: 'logical',
  shared_buffers: '512MB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  wal_compression: 'off',
  max_connections: 200,
}

/**
 * Kafka's own start script defaults (`-Xmx1G -Xms1G`, G1 with 20 ms pauses) instead of the harness's
 * fast-start options, whose C1-only compilation runs the broker's hot paths slower. Later flags win.
 */
export const KAFKA_JVM_OPTIONS = [
  '-Xms1g',
  '-Xmx1g',
  '-XX:-UseSerialGC',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:TieredStopAtLevel=4',
]

/** Beyond the harness's single-node KRaft defaults; messages flushed by the OS, as Kafka's defaults. */
export const KAFKA_PROPERTIES: Record<string, string | number> = {
  'num.partitions': 6,
  'message.max.bytes': 1048588,
}

export interface Services {
  postgres: TestPostgres
  kafka: KafkaBroker
  /** Superuser URL of the `postgres` database. */
  url: string
  postgresVersion: string
  /** The broker's JVM, for CPU sampling (looked up each time: the memory benchmark restarts it). */
  readonly kafkaPid: number
  /** The postmaster: every PostgreSQL process is under it. */
  readonly postmasterPid: number
  /** Bytes the broker stores for a topic: the sizes of its partitions' log segments. */
  topicBytes(topic: string): number
  stop(): Promise<void>
}

/** What every benchmark's `measure` gets. */
export interface BenchContext {
  services: Services
  /** A smoke check: small sizes, one repeat; the figures mean little. */
  quick: boolean
  log: (line: string) => void
  /** Only these arms of the benchmarks that have arms (`--arms`). */
  arms?: string[]
}

/** Start PostgreSQL (durable settings) and Kafka (Kafka's own JVM defaults) for benchmarks. */
export async function startServices(log: (line: string) => void): Promise<Services> {
  const postgres = await startPostgres({ settings: POSTGRES_SETTINGS })
  const kafka = await startKafka({
    jvmOptions: KAFKA_JVM_OPTIONS,
    properties: KAFKA_PROPERTIES,
    timeoutMs: 120_000,
  }).catch(async (error: unknown) => {
    await postgres.destroy()
    throw error
  })
  const postgresVersion = await withClient(postgres.url, async (client) => {
    const { rows } = await client.query<{ v: string }>('select current_setting($$server_version$$) as v')
    return rows[0]?.v ?? 'unknown'
  })
  log(
    `PostgreSQL ${postgresVersion} at ${postgres.url}, Kafka ${kafka.version} at ${kafka.brokers.join(',')}`,
  )
  return {
    postgres,
    kafka,
    url: postgres.url,
    postgresVersion,
    get kafkaPid() {
      return findKafkaPid(kafka.dir)
    },
    get postmasterPid() {
      return Number(readFileSync(join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    },
    topicBytes(topic) {
      const data = join(kafka.dir, 'data')
      let bytes = 0
      for (const partition of readdirSync(data).filter((name) => name.startsWith(`${topic}-`)))
        for (const file of readdirSync(join(data, partition)).filter((name) => name.endsWith('.log')))
          bytes += statSync(join(data, partition, file)).size
      return bytes
    },
    async stop() {
      await kafka.destroy().catch(() => {})
      await postgres.destroy().catch(() => {})
    },
  }
}

/** The broker JVM is the process whose command line names the broker's own directory. */
export function findKafkaPid(dir: string): number {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name)))
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes('kafka.Kafka') && cmdline.includes(`${dir}/server.properties`))
        return Number(entry)
    } catch {
      // The process ended while we looked.
    }
  return 0
}

/** Create topics (if missing) and wait for their leaders. */
export async function ensureTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'factlib-bench-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((topic) => !existing.has(topic))
    if (missing.length)
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: 6 })),
        waitForLeaders: true,
      })
  } finally {
    await admin.disconnect()
  }
}

/** `java -version`'s first line (it writes to stderr), for the machine stamp. */
export function javaVersion(): string {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return `${result.stderr ?? ''}${result.stdout ?? ''}`.split('\n')[0]?.trim() || 'unknown'
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
