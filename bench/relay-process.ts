import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchRelay, type RelayProcess, relayCli } from '../test/harness/relay-process.js'
import { histogramQuantile } from './stats.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The relay build under test; FACTLIB_BENCH_RELAY_DIST points at another one (a branch, an experiment). */
const dist = process.env.FACTLIB_BENCH_RELAY_DIST
const cli = dist ? join(resolve(dist), 'cli/main.js') : relayCli

/** How the relay is started, for the report. */
export function relayCommand(): string {
  return `node ${relative(root, cli)} relay`
}

/** A relay streaming its slot to Kafka, and its /metrics. */
export interface StreamingRelay extends RelayProcess {
  metrics(): Promise<RelayMetricsSnapshot>
}

/** Start `factlib relay` (the harness's launcher); resolves once it streams the slot to Kafka. */
export async function startStreamingRelay(
  env: Record<string, string>,
  options: { nodeFlags?: string[] } = {},
): Promise<StreamingRelay> {
  const relay = launchRelay({ FACTLIB_LOG_LEVEL: 'info', ...env }, { cli, ...options })
  try {
    const started = await relay.waitForLog('relay started', 60_000)
    if (started.sink !== 'kafka') throw new Error(`the relay started with sink ${String(started.sink)}`)
    await relay.waitForLog('streaming', 60_000)
  } catch (error) {
    relay.kill('SIGKILL')
    await relay.exited
    throw error
  }
  return {
    ...relay,
    async metrics() {
      return parseRelayMetrics((await relay.get('/metrics')).body)
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
