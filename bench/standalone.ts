import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { root } from './child.js'
import { type Services, startServices } from './services.js'

/** What every benchmark's `measure` gets. */
export interface BenchContext {
  services: Services
  /** A smoke check: small sizes, fewer repeats; the figures mean little. */
  quick: boolean
  log: (line: string) => void
}

/** Whether the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(url)
}

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

/** Create topics (if missing) and wait for their leaders. */
export async function ensureTopics(brokers: string[], topics: string[], partitions = 6): Promise<void> {
  const admin = new Kafka({ clientId: 'factlib-bench-admin', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((topic) => !existing.has(topic))
    if (missing.length)
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
        waitForLeaders: true,
      })
  } finally {
    await admin.disconnect()
  }
}

/**
 * Run one benchmark on its own: start the services, measure, print the figures and the command that
 * reproduces them, keep the raw result under bench/results/.
 */
export async function runStandalone<T>(
  name: string,
  measure: (context: BenchContext) => Promise<T>,
  print: (result: T) => string,
): Promise<void> {
  const quick = process.argv.includes('--quick')
  const services = await startServices({ log })
  let code = 0
  try {
    const result = await measure({ services, quick, log })
    const directory = join(root, 'bench/results')
    await mkdir(directory, { recursive: true })
    const file = join(directory, `${name}-${new Date().toISOString().replaceAll(':', '-')}.json`)
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
    process.stdout.write(
      `${print(result)}\n\nraw result: ${file}\nreproduce: npx tsx bench/${name}.ts${quick ? ' --quick' : ''}\n`,
    )
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    code = 1
  } finally {
    await services.stop()
  }
  process.exit(code)
}
