// Where the relay's time goes at full speed: one drain of a 1 KB backlog with the relay under
// `node --cpu-prof`, samples cut to the measured part, self time summed by package and by function.
// `(idle)` is time the relay's thread waited. Profiling slows the relay: its rate is no throughput figure.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withBacklog } from './db.js'
import { drain } from './drain.js'
import { TOPIC } from './facts.js'
import { type BenchContext, ensureTopics } from './services.js'

type CpuProfile = Record<'startTime' | 'endTime', number> &
  Record<'samples' | 'timeDeltas', number[]> & {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>
  }

export async function measure({ services, quick }: BenchContext) {
  const settings = { facts: quick ? 5_000 : 60_000, warm: quick ? 2_000 : 10_000, bytes: 1024 }
  await ensureTopics(services.kafka.brokers, [TOPIC])
  const directory = await mkdtemp(join(tmpdir(), 'factlib-relay-profile-'))
  try {
    const nodeFlags = ['--cpu-prof', `--cpu-prof-dir=${directory}`]
    const run = await withBacklog(services, ['relay'], settings, (backlog) =>
      drain(backlog, 'relay', 'relay', { nodeFlags }),
    )
    const file = (await readdir(directory)).find((name) => name.endsWith('.cpuprofile'))
    if (!file) throw new Error('the relay wrote no CPU profile')
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile
    // The profile ends when the process exits: the measured part lies that long before its end.
    const { warmAt, endAt, exitAt } = run.timing
    const [from, to] = [profile.endTime - (exitAt - warmAt) * 1000, profile.endTime - (exitAt - endAt) * 1000]
    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
    const [byPackage, byFunction] = [new Map<string, number>(), new Map<string, number>()]
    let [at, total] = [profile.startTime, 0]
    for (const [index, id] of profile.samples.entries()) {
      const delta = profile.timeDeltas[index] ?? 0
      at += delta
      const frame = frames.get(id)
      if (at < from || at > to || !frame) continue
      const short = frame.url.replace(/^.*node_modules\//, '').replace(/^.*packages\//, 'packages/')
      const name = frame.url
        ? `${frame.functionName || '(anonymous)'} ${short}:${frame.lineNumber + 1}`
        : frame.functionName
      const pkg = packageOf(frame.url, frame.functionName)
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
      byFunction.set(name, (byFunction.get(name) ?? 0) + delta)
      total += delta
    }
    const top = (map: Map<string, number>, limit: number) =>
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, limit)
        .map(([name, micros]) => ({ name, ms: micros / 1000, share: total ? micros / total : 0 }))
    const [factsPerSecond, relayCores] = [run.steadyRate, run.cpu.processes.reader ?? Number.NaN]
    const [windowMs, packages, functions] = [total / 1000, top(byPackage, 12), top(byFunction, 20)]
    return { ...settings, factsPerSecond, relayCores, windowMs, byPackage: packages, topFunctions: functions }
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]
  if (module) return module
  if (url.includes('packages/relay/')) return '@factlib/relay'
  if (url.includes('packages/emit/')) return '@factlib/emit'
  return url.startsWith('node:') ? 'node (built-in modules)' : url
}
