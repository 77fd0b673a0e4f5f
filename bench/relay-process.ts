import { join, resolve } from 'node:path'
import { RELAY_HEAP_FLAGS } from '@factlib/relay/config'
import { launchRelay, relayCli } from '../test/harness/relay-process.js'
import { compiledScript } from './child.js'
import { PUBLICATION, withDatabase } from './db.js'
import type { Services } from './services.js'
import { histogramQuantile } from './stats.js'

// Another build, Node flags and environment for the relays under test: bench/README.md, "Reproduce".
const dist = process.env.FACTLIB_BENCH_RELAY_DIST
const words = (value: string | undefined) => value?.split(/\s+/).filter(Boolean) ?? []
const extraNodeFlags = words(process.env.FACTLIB_BENCH_RELAY_NODE_FLAGS)
const pair = (word: string) => /^([^=]+)=(.*)$/.exec(word)?.slice(1) ?? notAPair(word)
const notAPair = (word: string): never => {
  throw new Error(`FACTLIB_BENCH_RELAY_ENV: "${word}" is not NAME=value`)
}
const extraEnv = Object.fromEntries(words(process.env.FACTLIB_BENCH_RELAY_ENV).map(pair))
export const RELAY_CLI = dist ? join(resolve(dist), 'cli/main.js') : relayCli

type Relay = { url: string; slot: string; env?: Record<string, string>; nodeFlags?: string[]; noop?: boolean }

/**
 * `factlib relay` (with `noop`, bench/noop-relay.ts) on an existing `slot`, through the tests' launcher.
 * Resolves once it streams; a relay that ends first (a setting it refuses) rejects with its last words.
 */
export async function startStreamingRelay(services: Services, { url, slot, ...options }: Relay) {
  const env = {
    DATABASE_URL: url,
    FACTLIB_SLOT: slot,
    FACTLIB_PUBLICATION: PUBLICATION,
    FACTLIB_CREATE_SLOT: 'false',
    KAFKA_BROKERS: services.kafka.brokers.join(','),
    FACTLIB_LOG_LEVEL: 'info',
    ...(options.noop ? { FACTLIB_SINK: 'stdout' } : {}),
    ...options.env,
    ...extraEnv,
  }
  // The no-op relay compiled (no loader or type stripper in the process), and the heap flags `factlib relay`
  // gives itself, so that its memory compares with the relay's.
  const [cli, flags] = options.noop
    ? [compiledScript('noop-relay.ts'), [...RELAY_HEAP_FLAGS]]
    : [RELAY_CLI, []]
  const nodeFlags = [...flags, ...(options.nodeFlags ?? []), ...extraNodeFlags]
  const relay = launchRelay(env, { cli, nodeFlags })
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

/** From /metrics: facts relayed, bytes in flight, V8 heap and Buffers, the commit → ack histogram (s). */
function parseRelayMetrics(text: string) {
  let relayed = 0
  const memory = { inflightBytes: 0, heapTotalBytes: 0, externalBytes: 0 }
  const latency: Array<{ le: number; count: number }> = []
  const gauges = {
    factlib_inflight_bytes: 'inflightBytes',
    nodejs_heap_size_total_bytes: 'heapTotalBytes',
    nodejs_external_memory_bytes: 'externalBytes',
  } as const
  for (const line of text.split('\n')) {
    const [name = '', value = ''] = line.split(' ')
    if (name.startsWith('factlib_facts_relayed_total{')) relayed += Number(value)
    if (name in gauges) memory[gauges[name as keyof typeof gauges]] = Number(value)
    const bucket = /^factlib_e2e_latency_seconds_bucket\{le="([^"]+)"\}$/.exec(name)
    if (bucket)
      latency.push({ le: bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), count: Number(value) })
  }
  return { relayed, memory, latency }
}
type RelayMetricsSnapshot = ReturnType<typeof parseRelayMetrics>

/** Commit → ack quantiles in milliseconds of what the histogram gained between two snapshots. */
export function latencyBetween(before: RelayMetricsSnapshot, after: RelayMetricsSnapshot) {
  const buckets = after.latency.map(({ le, count }, i) => ({
    le,
    count: count - (before.latency[i]?.count ?? 0),
  }))
  const ms = (q: number) => histogramQuantile(buckets, q) * 1000
  return { p50: ms(0.5), p99: ms(0.99) }
}

/** A database of its own with a slot `relay` that a relay with `env` streams (`noop`: no-op sink). */
export const withRelay = <T>(
  services: Services,
  env: Record<string, string>,
  work: Work<T>,
  options: { noop?: boolean } = {},
) =>
  withDatabase(services, ['relay'], async (url) => {
    const relay = await startStreamingRelay(services, { url, slot: 'relay', env, ...options })
    try {
      return await work(relay, url)
    } finally {
      await relay.stop()
    }
  })
type Work<T> = (relay: Awaited<ReturnType<typeof startStreamingRelay>>, url: string) => Promise<T>
