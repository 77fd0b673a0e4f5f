import { join, resolve } from 'node:path'
import { launchRelay, type RelayProcess, relayCli } from '../test/harness/relay-process.js'
import { root } from './child.js'
import { histogramQuantile } from './stats.js'

/** The relay build under test; FACTLIB_BENCH_RELAY_DIST points at another one (a branch, an experiment). */
const dist = process.env.FACTLIB_BENCH_RELAY_DIST
export const RELAY_CLI = dist ? join(resolve(dist), 'cli/main.js') : relayCli

/** A relay streaming its slot, and its /metrics. */
export interface StreamingRelay extends RelayProcess {
  metrics(): Promise<RelayMetricsSnapshot>
}

/**
 * Start `factlib relay` through the tests' launcher (or, with `noop`, bench/noop-relay.ts: the same relay
 * with a sink that does nothing); resolves once it streams its slot. A relay that ends first (a setting it
 * refuses) rejects with the relay's own last words.
 */
export async function startStreamingRelay(
  env: Record<string, string>,
  options: { nodeFlags?: string[]; noop?: boolean } = {},
): Promise<StreamingRelay> {
  const relay = launchRelay(
    { FACTLIB_LOG_LEVEL: 'info', ...(options.noop ? { FACTLIB_SINK: 'stdout' } : {}), ...env },
    options.noop
      ? {
          cli: join(root, 'bench/noop-relay.ts'),
          nodeFlags: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
        }
      : { cli: RELAY_CLI, nodeFlags: options.nodeFlags ?? [] },
  )
  try {
    await relay.waitForLog('streaming', 60_000)
  } catch {
    relay.kill('SIGKILL')
    await relay.exited
    const last =
      relay.logs.filter((log) => log.level === 'error' || log.raw).at(-1) ?? relay.logs.at(-1) ?? {}
    throw new Error(String(last.raw ?? [last.msg, (last.error as { message?: string })?.message].join(': ')))
  }
  return { ...relay, metrics: async () => parseRelayMetrics((await relay.get('/metrics')).body) }
}

export interface RelayMetricsSnapshot {
  relayed: number
  inflightBytes: number
  /** The relay's V8 heap (reserved) and its Buffers outside the heap, bytes. */
  heapTotalBytes: number
  externalBytes: number
  /** Cumulative commit→ack histogram, seconds. */
  latency: Array<{ le: number; count: number }>
}

export function parseRelayMetrics(text: string): RelayMetricsSnapshot {
  const snapshot: RelayMetricsSnapshot = {
    relayed: 0,
    inflightBytes: 0,
    heapTotalBytes: 0,
    externalBytes: 0,
    latency: [],
  }
  const gauges = {
    factlib_inflight_bytes: 'inflightBytes',
    nodejs_heap_size_total_bytes: 'heapTotalBytes',
    nodejs_external_memory_bytes: 'externalBytes',
  } as const
  for (const line of text.split('\n')) {
    const [name = '', value = ''] = line.split(' ')
    if (name.startsWith('factlib_facts_relayed_total{')) snapshot.relayed += Number(value)
    if (name in gauges) snapshot[gauges[name as keyof typeof gauges]] = Number(value)
    const bucket = /^factlib_e2e_latency_seconds_bucket\{le="([^"]+)"\}$/.exec(name)
    if (bucket)
      snapshot.latency.push({ le: bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), count: Number(value) })
  }
  return snapshot
}

/** Commit → ack quantiles in milliseconds of what the histogram gained between two snapshots. */
export function latencyBetween(before: RelayMetricsSnapshot, after: RelayMetricsSnapshot) {
  const buckets = after.latency.map((bucket, i) => ({
    le: bucket.le,
    count: bucket.count - (before.latency[i]?.count ?? 0),
  }))
  const ms = (q: number) => histogramQuantile(buckets, q) * 1000
  return { count: buckets.at(-1)?.count ?? 0, p50: ms(0.5), p90: ms(0.9), p99: ms(0.99) }
}
