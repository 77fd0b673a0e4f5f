import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { histogramQuantile } from './stats.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The relay build under test; FACTLIB_BENCH_RELAY_DIST points at another one (a branch, an experiment). */
const dist = resolve(process.env.FACTLIB_BENCH_RELAY_DIST || join(root, 'packages/relay/dist'))
const cli = join(dist, 'cli.js')

/**
 * The same wiring as `factlib relay` with the Kafka sink, for builds whose CLI does not yet create one
 * (`createSink` in packages/relay/src/sinks.ts was a stdout stub while the sink landed). Plain JavaScript
 * so that no TypeScript loader runs inside the measured process.
 */
const KAFKA_ENTRY = `
const dist = ${JSON.stringify(`${dist}/`)}
const { parseConfig } = await import(dist + 'config.js')
const { jsonLogger } = await import(dist + 'log.js')
const { RelayMetrics } = await import(dist + 'metrics.js')
const { startRelay } = await import(dist + 'relay.js')
const { KafkaSink } = await import(dist + 'kafka-sink.js')
const config = parseConfig(process.env)
const log = jsonLogger({ level: 'info' }).child({ component: 'relay' })
const metrics = new RelayMetrics()
const sink = new KafkaSink(config.sink, {
  dlqTopic: config.dlqTopic,
  topicPartitions: config.topicPartitions,
  log,
  onProduceError: (kind) => metrics.produceError(kind),
  onDeadLetter: (reason) => metrics.deadLettered(reason),
})
const relay = await startRelay(config, { log, sink, metrics })
process.on('SIGTERM', () => void relay.stop())
process.exitCode = await relay.done
setTimeout(() => process.exit(process.exitCode), 2000).unref()
`

export type RelayLauncher = 'cli' | 'kafka-entry'

/** How the relay is started: `node packages/relay/dist/cli/main.js relay` unless that CLI cannot produce to Kafka. */
export function relayCommand(launcher: RelayLauncher): string {
  return launcher === 'cli'
    ? `node ${relative(root, cli)} relay`
    : 'node --input-type=module -e <KafkaSink + startRelay, see bench/relay-process.ts>'
}

/** Whether the built CLI wires a Kafka sink (rather than the stub that printed to stdout). */
export function cliHasKafkaSink(): boolean {
  const sinks = join(dist, 'sinks.js')
  return existsSync(sinks) && /KafkaSink/.test(readFileSync(sinks, 'utf8'))
}

export interface RelayProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly launcher: RelayLauncher
  readonly logs: Array<Record<string, unknown>>
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>
  metrics(): Promise<RelayMetricsSnapshot>
  stop(): Promise<number | string>
}

/** Start a relay child process; resolves once it streams the slot. */
export async function startRelayProcess(
  env: Record<string, string>,
  options: { nodeFlags?: string[]; launcher?: RelayLauncher; cwd?: string; dist?: string } = {},
): Promise<RelayProcess> {
  const launcher = options.launcher ?? (cliHasKafkaSink() ? 'cli' : 'kafka-entry')
  const args =
    launcher === 'cli'
      ? [...(options.nodeFlags ?? []), options.dist ? join(options.dist, 'cli.js') : cli, 'relay']
      : [...(options.nodeFlags ?? []), '--input-type=module', '-e', KAFKA_ENTRY]
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      FACTLIB_HTTP_PORT: '0',
      FACTLIB_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  let rest = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) {
      if (!part) continue
      try {
        logs.push(JSON.parse(part) as Record<string, unknown>)
      } catch {
        logs.push({ msg: part, raw: true })
      }
    }
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  )
  const waitForLog = async (msg: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = logs.find((line) => line.msg === msg)
      if (found) return found
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
        throw new Error(
          `the relay ${child.exitCode !== null ? `exited (${child.exitCode})` : 'did not log'} "${msg}"; its log:\n` +
            logs
              .slice(-20)
              .map((line) => JSON.stringify(line))
              .join('\n'),
        )
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const started = await waitForLog('relay started')
  if (started.sink !== 'kafka') {
    child.kill('SIGKILL')
    await exited
    if (launcher === 'kafka-entry') throw new Error(`the relay started with sink ${String(started.sink)}`)
    return startRelayProcess(env, { ...options, launcher: 'kafka-entry' })
  }
  await waitForLog('streaming')
  const port = Number(started.httpPort)
  return {
    child,
    pid: child.pid ?? 0,
    launcher,
    logs,
    waitForLog,
    async metrics() {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`)
      return parseRelayMetrics(await response.text())
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

export interface RelayMetricsSnapshot {
  relayed: number
  inflightBytes: number
  /** The relay's V8 heap (reserved) and its Buffers outside the heap, bytes; 0 from builds without them. */
  heapTotalBytes: number
  externalBytes: number
  /** Cumulative commit→ack histogram, seconds. */
  latency: Array<{ le: number; count: number }>
}

export function parseRelayMetrics(text: string): RelayMetricsSnapshot {
  let relayed = 0
  let inflightBytes = 0
  let heapTotalBytes = 0
  let externalBytes = 0
  const latency: Array<{ le: number; count: number }> = []
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const relayedMatch = /^factlib_facts_relayed_total\{[^}]*\} (\S+)/.exec(line)
    if (relayedMatch) relayed += Number(relayedMatch[1])
    const bucket = /^factlib_e2e_latency_seconds_bucket\{le="([^"]+)"\} (\S+)/.exec(line)
    if (bucket)
      latency.push({
        le: bucket[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(bucket[1]),
        count: Number(bucket[2]),
      })
    const inflight = /^factlib_inflight_bytes (\S+)/.exec(line)
    if (inflight) inflightBytes = Number(inflight[1])
    const heap = /^nodejs_heap_size_total_bytes (\S+)/.exec(line)
    if (heap) heapTotalBytes = Number(heap[1])
    const external = /^nodejs_external_memory_bytes (\S+)/.exec(line)
    if (external) externalBytes = Number(external[1])
  }
  return { relayed, inflightBytes, heapTotalBytes, externalBytes, latency }
}

/** The histogram of what happened between two snapshots, and its quantiles in milliseconds. */
export function latencyBetween(
  before: RelayMetricsSnapshot,
  after: RelayMetricsSnapshot,
): { count: number; p50: number; p90: number; p99: number; buckets: Array<{ le: number; count: number }> } {
  const buckets = after.latency.map((bucket, index) => ({
    le: bucket.le,
    count: bucket.count - (before.latency[index]?.count ?? 0),
  }))
  const ms = (q: number) => histogramQuantile(buckets, q) * 1000
  return {
    count: buckets[buckets.length - 1]?.count ?? 0,
    p50: ms(0.5),
    p90: ms(0.9),
    p99: ms(0.99),
    buckets,
  }
}
