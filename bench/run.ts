// `npm run bench`: every benchmark in one run against a real PostgreSQL and Kafka; raw results to
// bench/results/ (git-ignored), then the tables between the markers of bench/README.md and the charts.
//
//   npm run bench                          everything; rewrites bench/README.md's tables and bench/charts/
//   npm run bench -- --quick               smoke check (under two minutes); report in bench/results/quick/
//   npm run bench -- --only a,b            some benchmarks; report in bench/results/partial/
//   npm run bench -- --only relay-throughput --arms relay,noop-relay   some arms of one
//   npm run bench -- --report <file>       rewrite the report from a results file without measuring
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { root } from './child.js'
import { assessNoise, machineStamp } from './machine.js'
import type { CpuUsage } from './proc.js'
import { type RunResults, writeReport } from './report.js'
import { type BenchContext, startServices } from './services.js'
import { summarize } from './stats.js'

/** In the order they run; the emitter's need no broker, relay-memory stops and restarts it (so: last). */
const BENCHMARKS = [
  'emit-bundle',
  'emit-statement',
  'outbox',
  'relay-throughput',
  'relay-codecs',
  'relay-latency',
]
BENCHMARKS.push('relay-profile', 'kafka-jvm', 'relay-memory')
const WITHOUT_SERVICES = ['emit-bundle', 'emit-statement']
type Benchmark = { measure(context: BenchContext): Promise<unknown> }

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    arms: { type: 'string' },
    report: { type: 'string' },
  },
})
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)
const directory = (quick: boolean, partial: boolean) =>
  join(root, quick ? 'bench/results/quick' : partial ? 'bench/results/partial' : 'bench')

if (values.report) {
  const run = JSON.parse(await readFile(values.report, 'utf8')) as RunResults
  log(
    `report: ${relative(root, await writeReport(run, directory(run.quick, run.command.includes('--only'))))}`,
  )
  process.exit(0)
}
const only = values.only?.split(',').map((name) => name.trim())
const unknown = only?.filter((name) => !BENCHMARKS.includes(name))
if (unknown?.length) {
  log(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`)
  process.exit(2)
}
const quick = values.quick ?? false
const arms = values.arms?.split(',').map((name) => name.trim())
const command = `npm run bench${quick ? ' -- --quick' : ''}${only ? `${quick ? '' : ' --'} --only ${only.join(',')}` : ''}${arms ? ` --arms ${arms.join(',')}` : ''}`
log('building the packages (tsc -b)')
const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b'], {
  cwd: root,
  encoding: 'utf8',
})
if (build.status !== 0) log(`tsc -b failed; measuring the existing build:\n${build.stdout}${build.stderr}`)

const [started, startedAt] = [Date.now(), new Date().toISOString()]
const results: Record<string, unknown> = {}
const errors: Record<string, string> = {}
const selected = BENCHMARKS.filter((name) => !only || only.includes(name))
const needServices = selected.some((name) => !WITHOUT_SERVICES.includes(name))
const services = needServices ? await startServices(log) : undefined
const machine = services ? machineStamp(services) : undefined
try {
  for (const name of selected) {
    const begun = Date.now()
    log(`${name}: measuring`)
    try {
      const context = {
        services: services as NonNullable<typeof services>,
        quick,
        log,
        ...(arms ? { arms } : {}),
      }
      // It starts a second broker; a smoke run has no use for it.
      const result =
        name === 'kafka-jvm' && quick
          ? undefined
          : await ((await import(`./${name}.js`)) as Benchmark).measure(context)
      if (result !== undefined) results[name] = result
      log(`${name}: done in ${((Date.now() - begun) / 1000).toFixed(0)} s`)
    } catch (error) {
      errors[name] = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    }
  }
} finally {
  await services?.stop()
}
if (machine) machine.loadAverage.end = loadavg()[0] ?? 0
const [windows, spreads] = measuredWindows(results)
const run: RunResults = {
  quick,
  startedAt,
  seconds: (Date.now() - started) / 1000,
  command,
  machine,
  noise: assessNoise(windows, spreads),
  results,
  errors,
  resultsFile: `bench/results/${startedAt.replaceAll(':', '-').slice(0, 19)}${quick ? '-quick' : only ? '-partial' : ''}.json`,
}
await mkdir(join(root, 'bench/results'), { recursive: true })
await writeFile(join(root, run.resultsFile), `${JSON.stringify(run, null, 1)}\n`)
log(`raw results: ${run.resultsFile}`)
log(`report: ${relative(root, await writeReport(run, directory(quick, Boolean(only || arms))))}`)
log(run.noise.verdict)
log(`finished in ${(run.seconds / 60).toFixed(1)} min`)
process.exit(Object.keys(errors).length ? 1 : 0)

/** Every measured window's CPU reading (was the machine quiet?) and the spread of each repeated figure. */
function measuredWindows(all: Record<string, unknown>): [CpuUsage[], number[]] {
  type Run = { arm: string; cpu?: CpuUsage; clients?: number } & Record<string, number>
  const runsOf = (name: string) => (all[name] as { runs?: Run[] } | undefined)?.runs ?? []
  const throughput =
    (all['relay-throughput'] as { payloads?: Array<{ runs: Run[] }> } | undefined)?.payloads ?? []
  const lists = [...['outbox', 'relay-codecs', 'relay-latency'].map(runsOf), ...throughput.map((p) => p.runs)]
  const spreads = lists.flatMap((runs) =>
    [...new Set(runs.map((run) => `${run.arm}|${run.clients}`))]
      .map((key) => runs.filter((run) => `${run.arm}|${run.clients}` === key))
      .map((same) => summarize(same.map((run) => run.rate ?? run.perSecond ?? run.achieved ?? Number.NaN)))
      .flatMap((summary) => (summary.n > 1 ? [summary.spreadPct] : [])),
  )
  return [lists.flat().flatMap((run) => (run.cpu ? [run.cpu] : [])), spreads]
}
