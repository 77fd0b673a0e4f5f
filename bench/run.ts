// `npm run bench`: every benchmark in one run against the harness's real PostgreSQL and Kafka; raw results
// to bench/results/ (git-ignored), the report to bench/README.md with its charts under bench/charts/.
//
//   npm run bench                      everything (about 15 minutes on a quiet 2-core machine)
//   npm run bench -- --quick           smoke check (under two minutes); report in bench/results/quick/
//   npm run bench -- --only a,b        some benchmarks; report in bench/results/partial/
//   npm run bench -- --report <file>   rewrite the report from a results file without measuring
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { root } from './child.js'
import { assessNoise, machineStamp } from './machine.js'
import type { CpuUsage } from './proc.js'
import { type RunResults, writeReport } from './report.js'
import { startServices } from './services.js'
import type { BenchContext } from './standalone.js'
import type { Summary } from './stats.js'

const BENCHMARKS = [
  'emit-bundle',
  'emit-statement',
  'outbox',
  'relay-throughput',
  'relay-latency',
  'relay-profile',
  'kafka-jvm',
  // Last: it stops and restarts the broker.
  'relay-memory',
] as const
type Name = (typeof BENCHMARKS)[number]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    report: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
})
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

if (values.report) {
  const run = JSON.parse(await readFile(values.report, 'utf8')) as RunResults
  run.noise = assessNoise(windows(run.results), spreads(run.results))
  log(`report written to ${relative(root, await writeReport(run, reportDirectory(run.quick, false)))}`)
  process.exit(0)
}

const only = values.only?.split(',').map((name) => name.trim())
for (const name of only ?? [])
  if (!(BENCHMARKS as readonly string[]).includes(name)) {
    log(`unknown benchmark "${name}"; choose from ${BENCHMARKS.join(', ')}`)
    process.exit(2)
  }
const selected = BENCHMARKS.filter((name) => !only || only.includes(name))
const quick = values.quick ?? false
const command = `npm run bench${quick ? ' -- --quick' : only ? ` -- --only ${only.join(',')}` : ''}`

if (!values['no-build']) {
  log('building the packages (tsc -b)')
  const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b'], {
    cwd: root,
    encoding: 'utf8',
  })
  if (build.status !== 0) log(`tsc -b failed; measuring the existing build:\n${build.stdout}${build.stderr}`)
}

const started = Date.now()
const startedAt = new Date().toISOString()
const results: RunResults['results'] = {}
const errors: Record<string, string> = {}
const attempt = async (name: Name, measure: () => Promise<unknown>) => {
  const begun = Date.now()
  log(`${name}: measuring`)
  try {
    ;(results as Record<string, unknown>)[name] = await measure()
    log(`${name}: done in ${((Date.now() - begun) / 1000).toFixed(0)} s`)
  } catch (error) {
    errors[name] = error instanceof Error ? (error.message.split('\n')[0] ?? String(error)) : String(error)
    log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  }
}

// The emitter's benchmarks need no broker: they run before the services start.
if (selected.includes('emit-bundle'))
  await attempt('emit-bundle', async () => (await import('./emit-bundle.js')).measure())
if (selected.includes('emit-statement'))
  await attempt('emit-statement', async () => (await import('./emit-statement.js')).measure())

const services = await startServices({ log })
const machine = machineStamp(services)
try {
  const context: BenchContext = { services, quick, log }
  for (const name of selected) {
    if (name === 'outbox') await attempt(name, async () => (await import('./outbox.js')).measure(context))
    if (name === 'relay-throughput')
      await attempt(name, async () => (await import('./relay-throughput.js')).measure(context))
    if (name === 'relay-latency')
      await attempt(name, async () => (await import('./relay-latency.js')).measure(context))
    if (name === 'relay-profile')
      await attempt(name, async () => (await import('./relay-profile.js')).measure(context))
    // It starts a second broker; a smoke run has no use for it.
    if (name === 'kafka-jvm' && !quick)
      await attempt(name, async () => (await import('./kafka-jvm.js')).measure(context))
    if (name === 'relay-memory')
      await attempt(name, async () => (await import('./relay-memory.js')).measure(context))
  }
} finally {
  await services.stop()
}
machine.loadAverage.end = loadavg()[0] ?? 0

const run: RunResults = {
  quick,
  startedAt,
  seconds: (Date.now() - started) / 1000,
  command,
  machine,
  noise: assessNoise(windows(results), spreads(results)),
  results,
  errors,
  resultsFile: '',
}
const directory = join(root, 'bench/results')
await mkdir(directory, { recursive: true })
const file = join(
  directory,
  `${startedAt.replaceAll(':', '-').slice(0, 19)}${quick ? '-quick' : only ? '-partial' : ''}.json`,
)
run.resultsFile = relative(root, file)
await writeFile(file, `${JSON.stringify(run, null, 1)}\n`)
const report = await writeReport(run, reportDirectory(quick, Boolean(only)))
log(`raw results: ${run.resultsFile}`)
log(`report: ${relative(root, report)}`)
log(run.noise.verdict)
log(`finished in ${(run.seconds / 60).toFixed(1)} min`)
process.exit(Object.keys(errors).length ? 1 : 0)

function reportDirectory(isQuick: boolean, partial: boolean): string {
  if (isQuick) return join(root, 'bench/results/quick')
  if (partial) return join(root, 'bench/results/partial')
  return join(root, 'bench')
}

/** Every measured window's CPU reading, to judge how quiet the machine was. */
function windows(all: RunResults['results']): CpuUsage[] {
  return [
    ...(all.outbox?.runs.map((run) => run.cpu) ?? []),
    ...(all['relay-throughput']?.payloads.flatMap((payload) => payload.runs.map((run) => run.cpu)) ?? []),
    ...(all['relay-latency']?.runs.map((run) => run.cpu) ?? []),
  ]
}

/** The spread of each repeated headline figure. */
function spreads(all: RunResults['results']): number[] {
  const repeated = (summaries: Summary[]) =>
    summaries.filter((summary) => summary.n > 1).map((summary) => summary.spreadPct)
  return [
    ...repeated(all.outbox?.cells.map((cell) => cell.perSecond) ?? []),
    ...repeated(all['relay-throughput']?.payloads.flatMap((payload) => Object.values(payload.rates)) ?? []),
    ...repeated(all['relay-latency']?.points.map((point) => point.achieved) ?? []),
    ...repeated(
      all['relay-memory'] ? [all['relay-memory'].fullSpeedPeakRss, all['relay-memory'].outagePlateauRss] : [],
    ),
  ]
}
