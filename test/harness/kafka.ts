import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { waitFor } from './wait.js'

/** The Kafka release the test broker runs (Amazon MSK offers 3.9.x and 4.x; 3.9.x first). */
export const KAFKA_VERSION = process.env.FACTLIB_TEST_KAFKA_VERSION || '3.9.2'

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')
const pom = join(repoRoot, 'test/harness/kafka/pom.xml')

/** Thrown when a prerequisite (Java, Maven, network to Maven Central) is missing; says what to install. */
export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError'
}

/** Where the broker's jars are cached: `.cache/kafka/<version>/jars` in the repository (git-ignored). */
export function kafkaJarDir(version = KAFKA_VERSION): string {
  return join(repoRoot, '.cache/kafka', version, 'jars')
}

/**
 * Resolve the broker's jars from Maven Central into the cache, once. A `.complete` marker is written last,
 * so an interrupted download is redone rather than used half-finished.
 */
export async function ensureKafkaJars({
  version = KAFKA_VERSION,
  log = () => {},
}: {
  version?: string
  log?: (line: string) => void
} = {}): Promise<string> {
  const jars = kafkaJarDir(version)
  const marker = join(jars, '..', '.complete')
  if (existsSync(marker)) return jars
  await rm(jars, { recursive: true, force: true })
  log(`resolving Apache Kafka ${version} jars from Maven Central into ${jars}`)
  const output = await run('mvn', [
    '-B',
    '-q',
    '-f',
    pom,
    `-Dkafka.version=${version}`,
    'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${jars}`,
  ]).catch((error: unknown) => {
    if (isNotFound(error))
      throw new PrerequisiteError(
        'Maven (mvn) is not installed; it resolves the test Kafka broker from Maven Central. ' +
          'Install it (Debian: apt-get install maven) or set FACTLIB_TEST_KAFKA_BROKERS to an existing broker.',
      )
    const detail =
      error instanceof RunError ? error.output.trim().split('\n').slice(-8).join('\n  ') : String(error)
    throw new PrerequisiteError(
      `Maven could not resolve Apache Kafka ${version} from Maven Central (offline, or a proxy in the way?). ` +
        `Maven said:\n  ${detail}`,
    )
  })
  if (output.trim()) log(output.trim())
  const files = await readdir(jars)
  if (!files.some((file) => file.startsWith('kafka_2.13-')))
    throw new PrerequisiteError(`Maven finished but ${jars} holds no kafka_2.13 jar`)
  await writeFile(marker, `${new Date().toISOString()}\n`)
  return jars
}

/** Options for {@link startKafka}. */
export interface KafkaOptions {
  /** Working directory (config, data, log). @default a new temporary directory */
  dir?: string
  /** Extra or overriding `server.properties` entries; `{port}` and `{controllerPort}` are substituted. */
  properties?: Record<string, string | number>
  /** Extra JVM options; the defaults favour a fast start on a small machine. */
  jvmOptions?: string[]
  /** Give up after this long. @default 60_000 */
  timeoutMs?: number
  log?: (line: string) => void
}

/** A running single-node KRaft broker. */
export interface KafkaBroker {
  /** `['127.0.0.1:<port>']` */
  readonly brokers: string[]
  readonly port: number
  readonly dir: string
  readonly version: string
  /** The broker JVM's process ID; 0 while it is stopped. */
  readonly pid: number
  /** Start again after stop/kill: same ports, same data. */
  start(): Promise<void>
  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
  /** SIGKILL: a crash. */
  kill(): Promise<void>
  /** Stop and delete the working directory. */
  destroy(): Promise<void>
}

const FAST_START_JVM = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto']

/**
 * Start a real Apache Kafka broker (single node, KRaft, auto-creation off as on Amazon MSK) with the
 * machine's Java. Ready only once an admin client has created a 3-partition topic and seen its leaders.
 *
 * @example
 * ```ts
 * const kafka = await startKafka()
 * const client = new Kafka({ brokers: kafka.brokers })
 * await kafka.destroy()
 * ```
 */
export async function startKafka(options: KafkaOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? (() => {})
  const timeoutMs = options.timeoutMs ?? 60_000
  await assertJava()
  const jars = await ensureKafkaJars({ log })
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'factlib-kafka-')))
  await mkdir(dir, { recursive: true })
  // Imported here so that `npm run kafka:jars` works before the packages are built.
  const { freePort } = await import('@factlib/dev/embedded-postgres')
  const [port, controllerPort] = [await freePort(), await freePort()]
  const substitute = (value: string | number) =>
    String(value).replaceAll('{port}', String(port)).replaceAll('{controllerPort}', String(controllerPort))
  const properties: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': 3,
    'auto.create.topics.enable': 'false',
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'min.insync.replicas': 1,
    'group.initial.rebalance.delay.ms': 0,
    'log.cleaner.dedupe.buffer.size': 8388608,
    ...options.properties,
  }
  const config = join(dir, 'server.properties')
  await writeFile(
    config,
    Object.entries(properties)
      .map(([key, value]) => `${key}=${substitute(value)}`)
      .join('\n'),
  )
  await writeFile(
    join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.org.apache.kafka.clients=WARN',
      'log4j.logger.kafka.request.logger=WARN',
    ].join('\n'),
  )
  const classpath = `${jars}/*`
  const clusterId = kafkaClusterId()
  await run('java', [
    '-cp',
    classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    config,
  ]).catch((error: unknown) => {
    throw new Error(
      `formatting Kafka storage in ${dir} failed: ${error instanceof Error ? error.message : error}`,
    )
  })

  let child: ChildProcess | undefined
  const recent: string[] = []
  const brokers = [`127.0.0.1:${port}`]

  const start = async () => {
    await assertPortsFree(port, controllerPort)
    recent.length = 0
    const out = createWriteStream(join(dir, 'server.log'), { flags: 'a' })
    const process_ = spawn(
      'java',
      [
        ...FAST_START_JVM,
        ...(options.jvmOptions ?? []),
        `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
        `-Dkafka.logs.dir=${dir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        config,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = process_
    children.add(process_)
    let started = false
    let exited: string | undefined
    const onData = (chunk: Buffer) => {
      out.write(chunk)
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue
        recent.push(line)
        if (recent.length > 30) recent.shift()
        if (line.includes('Kafka Server started') || line.includes('KafkaRaftServer] Kafka Server started'))
          started = true
        log(line)
      }
    }
    process_.stdout?.on('data', onData)
    process_.stderr?.on('data', onData)
    process_.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`
      if (child === process_) child = undefined
      out.end()
    })
    const reason = () =>
      `Kafka broker in ${dir} ${exited ?? 'did not start'}; its last log lines:\n  ${recent.slice(-12).join('\n  ')}`
    await waitFor(
      'the Kafka broker to log "Kafka Server started"',
      () => {
        if (exited) throw new Error(reason())
        return started
      },
      { timeoutMs, intervalMs: 50 },
    ).catch(async (error: unknown) => {
      await stopChild(process_, 'SIGKILL', 5_000)
      throw error instanceof Error && error.message.startsWith('Kafka broker') ? error : new Error(reason())
    })
    await adminReady(brokers, timeoutMs)
  }

  await start()

  const broker: KafkaBroker = {
    brokers,
    port,
    dir,
    version: KAFKA_VERSION,
    get pid() {
      return child?.pid ?? 0
    },
    start,
    async stop(stopTimeoutMs = 20_000) {
      if (child) await stopChild(child, 'SIGTERM', stopTimeoutMs)
      child = undefined
    },
    async kill() {
      if (child) await stopChild(child, 'SIGKILL', 5_000)
      child = undefined
    },
    async destroy() {
      await broker.stop()
      if (!options.dir) await rm(dir, { recursive: true, force: true })
    },
  }
  return broker
}

/** Children still running when the process exits are killed, so no JVM outlives a test run. */
const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

async function adminReady(brokers: string[], timeoutMs: number): Promise<void> {
  const admin = new Kafka({ clientId: 'factlib-harness', brokers, logLevel: logLevel.NOTHING }).admin()
  const topic = `factlib-harness-ready-${randomBytes(4).toString('hex')}`
  await waitFor(
    'an admin client to create a topic on the new broker',
    async () => {
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics
      return meta?.partitions.every((partition) => partition.leader >= 0) ?? false
    },
    { timeoutMs, intervalMs: 200 },
  )
  await admin.deleteTopics({ topics: [topic] }).catch(() => {})
  await admin.disconnect()
}

async function assertJava(): Promise<void> {
  await run('java', ['-version']).catch((error: unknown) => {
    throw new PrerequisiteError(
      isNotFound(error)
        ? 'Java is not installed; the test Kafka broker needs a JDK or JRE 17+ (Debian: apt-get install ' +
            'openjdk-17-jre-headless), or set FACTLIB_TEST_KAFKA_BROKERS to an existing broker.'
        : `\`java -version\` failed: ${error instanceof Error ? error.message : error}`,
    )
  })
}

async function assertPortsFree(...ports: number[]): Promise<void> {
  const { probePort } = await import('@factlib/dev/embedded-postgres')
  for (const port of ports)
    await probePort(port).catch(() => {
      throw new Error(`port ${port} on 127.0.0.1 is in use; the Kafka broker cannot listen there`)
    })
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      children.delete(child)
      resolve()
    })
    child.kill(signal)
  })
}

class RunError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message)
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/** Run a command to completion; resolves to its combined output, rejects with it on a non-zero exit. */
/**
 * A random KRaft cluster ID. One in 64 base64url IDs starts with '-', which the storage tool reads as an
 * option and fails on; Kafka's own Uuid.randomUuid() skips those for the same reason.
 */
export function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    child.once('error', (error) => {
      children.delete(child)
      reject(error)
    })
    child.once('close', (code) => {
      children.delete(child)
      if (code === 0) resolve(output)
      else reject(new RunError(`${command} exited with code ${code}: ${output.trim().slice(-2000)}`, output))
    })
  })
}
