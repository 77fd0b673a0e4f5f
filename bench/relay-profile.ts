// Where the relay's time goes at full speed: one drain of a 1 KB backlog with the relay under
// `node --cpu-prof`, samples cut to the measured part, self time summed by package and by function. The
// `(idle)` share is time the relay's thread waited (for Kafka's acknowledgements or for the socket).
// Profiling slows the relay down a little: its rate here is not a throughput figure.
//
//   npx tsx bench/relay-profile.ts [--quick]
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, createSlots, emitBacklog } from './db.js'
import { TOPIC } from './facts.js'
import { type DrainRun, drainWithRelay } from './readers.js'
import { type BenchContext, ensureTopics, isMain, runStandalone } from './standalone.js'
import { format } from './stats.js'

export const COMMAND = 'npx tsx bench/relay-profile.ts'

export interface ProfileOptions {
  facts?: number
  warm?: number
  bytes?: number
}

export interface ProfileEntry {
  name: string
  ms: number
  /** Share of the profiled window, idle included. */
  share: number
}

export interface ProfileResult {
  command: string
  bytes: number
  facts: number
  factsPerSecond: number
  /** Relay CPU over the measured part, in cores. */
  relayCores: number
  windowMs: number
  byPackage: ProfileEntry[]
  topFunctions: ProfileEntry[]
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export function defaults(quick: boolean): Required<ProfileOptions> {
  return quick ? { facts: 5_000, warm: 2_000, bytes: 1024 } : { facts: 60_000, warm: 10_000, bytes: 1024 }
}

export async function measure(context: BenchContext, options: ProfileOptions = {}): Promise<ProfileResult> {
  const { services } = context
  const settings = { ...defaults(context.quick), ...options }
  await ensureTopics(services.kafka.brokers, [TOPIC])
  const db = await createDatabase(services.url, 'bench_prof')
  const directory = await mkdtemp(join(tmpdir(), 'factlib-relay-profile-'))
  try {
    await createSlots(db.url, 'bench_pub', ['relay'])
    const warmMark = await emitBacklog(db.url, settings.warm, settings.bytes)
    const endMark = await emitBacklog(db.url, settings.facts, settings.bytes, settings.warm)
    const run = await drainWithRelay(
      {
        url: db.url,
        publication: 'bench_pub',
        facts: settings.facts,
        warm: settings.warm,
        warmMark,
        endMark,
        kafkaPid: services.kafkaPid,
      },
      'relay',
      { KAFKA_BROKERS: services.kafka.brokers.join(',') },
      { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${directory}`] },
    )
    const [file] = (await readdir(directory)).filter((name) => name.endsWith('.cpuprofile'))
    if (!file) throw new Error('the relay wrote no CPU profile')
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile
    return analyse(profile, run, settings)
  } finally {
    await rm(directory, { recursive: true, force: true })
    await db.drop()
  }
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (module) return module[1] as string
  if (url.includes('packages/relay/')) return '@factlib/relay'
  if (url.includes('packages/emit/')) return '@factlib/emit'
  if (url.startsWith('node:')) return 'node (built-in modules)'
  return url
}

function analyse(profile: CpuProfile, run: DrainRun, settings: Required<ProfileOptions>): ProfileResult {
  const timing = run.timing as NonNullable<DrainRun['timing']>
  // The profile ends when the process exits: the measured part lies that long before its end.
  const from = profile.endTime - (timing.exitAt - timing.warmAt) * 1000
  const to = profile.endTime - (timing.exitAt - timing.endAt) * 1000
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let at = profile.startTime
  let total = 0
  for (const [index, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[index] ?? 0
    at += delta
    if (at < from || at > to) continue
    const frame = nodes.get(id)
    if (!frame) continue
    const pkg = packageOf(frame.url, frame.functionName)
    const short = frame.url
      .replace(/^.*node_modules\//, '')
      .replace(/^.*packages\//, 'packages/')
      .replace(/^file:\/\//, '')
    const name = frame.url
      ? `${frame.functionName || '(anonymous)'} ${short}:${frame.lineNumber + 1}`
      : frame.functionName
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta)
    total += delta
  }
  const entries = (map: Map<string, number>, limit: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, micros]) => ({ name, ms: micros / 1000, share: total ? micros / total : 0 }))
  return {
    command: COMMAND,
    bytes: settings.bytes,
    facts: settings.facts,
    factsPerSecond: run.factsPerSecond,
    relayCores: run.cpu.processes.reader ?? Number.NaN,
    windowMs: total / 1000,
    byPackage: entries(byPackage, 12),
    topFunctions: entries(byFunction, 20),
  }
}

export function printProfile(result: ProfileResult): string {
  const line = (entry: ProfileEntry) =>
    `  ${(entry.share * 100).toFixed(1).padStart(5)} %  ${format(entry.ms).padStart(7)} ms  ${entry.name}`
  return [
    `\nrelay under --cpu-prof, ${result.facts} facts of ${result.bytes} B: ${format(result.factsPerSecond)} facts/s, relay ${format(result.relayCores, 2)} cores`,
    'self time by package:',
    ...result.byPackage.map(line),
    'top functions by self time:',
    ...result.topFunctions.map(line),
  ].join('\n')
}

if (isMain(import.meta.url)) await runStandalone('relay-profile', (context) => measure(context), printProfile)
