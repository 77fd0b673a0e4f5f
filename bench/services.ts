import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { type KafkaBroker, startKafka } from '../test/harness/kafka.js'
import { startPostgres, type TestPostgres, withClient } from '../test/harness/postgres.js'

/**
 * PostgreSQL as a production server would run it: every commit flushed to disk (the harness turns fsync
 * off for fast tests). Checkpoints are spaced out so none lands inside a measured window; each run issues
 * its own CHECKPOINT first, so full-page images cost every arm the same.
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
 * fast-start options: C1-only compilation (`TieredStopAtLevel=1`) starts quicker but runs the broker's hot
 * paths slower. Later flags win, so these override the harness's.
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

/** Broker settings beyond the harness's single-node KRaft defaults: messages flushed by the OS, as Kafka's defaults. */
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
  /** PID of the Kafka broker's JVM, for CPU and memory sampling. */
  kafkaPid: number
  /** PID of the PostgreSQL postmaster: every server process is under it. */
  postmasterPid: number
  kafkaJvmOptions: string[]
  stop(): Promise<void>
}

/** Start PostgreSQL (durable settings) and Kafka (performance JVM options) for benchmarks. */
export async function startServices(
  options: { log?: (line: string) => void; kafkaJvmOptions?: string[] } = {},
): Promise<Services> {
  const log = options.log ?? (() => {})
  const kafkaJvmOptions = options.kafkaJvmOptions ?? KAFKA_JVM_OPTIONS
  const postgres = await startPostgres({
    settings: POSTGRES_SETTINGS,
    ...(process.env.BENCH_PG_LOG ? { log: (line: string) => process.stderr.write(`[pg] ${line}\n`) } : {}),
  })
  let kafka: KafkaBroker
  try {
    kafka = await startKafka({
      jvmOptions: kafkaJvmOptions,
      properties: KAFKA_PROPERTIES,
      timeoutMs: 120_000,
    })
  } catch (error) {
    await postgres.destroy()
    throw error
  }
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
      try {
        return Number(readFileSync(`${postgres.dataDir}/postmaster.pid`, 'utf8').split('\n')[0])
      } catch {
        return 0
      }
    },
    kafkaJvmOptions,
    async stop() {
      await kafka.destroy().catch(() => {})
      await postgres.destroy().catch(() => {})
    },
  }
}

/** The broker JVM is the process whose command line names the broker's own directory. */
export function findKafkaPid(dir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes('kafka.Kafka') && cmdline.includes(`${dir}/server.properties`))
        return Number(entry)
    } catch {
      // The process ended while we looked.
    }
  }
  return 0
}

/** `java -version`'s first line, for the machine stamp. */
export function javaVersion(): string {
  // java -version writes to stderr.
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return `${result.stderr ?? ''}${result.stdout ?? ''}`.split('\n')[0]?.trim() || 'unknown'
}
