// The report: bench/README.md is hand-written prose; each result has one renderer, whose Markdown replaces
// what stands between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. Charts go to `charts/` beside it.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './child.js'
import type { DrainRun } from './drain.js'
import { BUDGET } from './emit-bundle.js'
import type { CpuUsage } from './proc.js'
import type { MachineStamp, Results, RunResults } from './run.js'
import { formatSummary as f, format, pairedRatio, type Summary, summarize, summarizeArm } from './stats.js'
import { barChart, lineChart, type Point } from './svg.js'

/** What one benchmark measured. */
type Result<Name extends keyof Results> = NonNullable<Results[Name]>
type Chart = (name: string, alt: string, svg: string) => string

/** The targets of the relay efficiency issue: a floor (≥) or a ceiling (≤). */
type Target = ReturnType<typeof target>
const target = (sign: '≥' | '≤', bound: number) => ({
  bound,
  text: `${sign} ${bound}`,
  verdict: (value: number) => ((sign === '≥' ? value >= bound : value <= bound) ? 'met' : '**not met**'),
})
const TARGET = {
  ...{ throughput: target('≥', 0.5), cpu: target('≤', 3.5) },
  ...{ rss: target('≤', 100), ackP99: target('≤', 10) },
}
const MiB = 1024 * 1024
const QUICK = '**A `--quick` smoke run: small sizes, one repeat; the figures mean little.**'
const CLIENTS = ['kafkajs', 'platformatic', 'confluent']
const LABEL: Record<string, string> = {
  ...{ 'bare-decode': 'bare decode', relay: '**relay**', 'noop-relay': 'relay, no-op sink' },
  ...{ platformatic: '@platformatic/kafka', confluent: '@confluentinc/kafka-javascript' },
  ...{
    emit: '@factlib/emit + relay',
    outbox: 'outbox table + polling worker',
    none: 'order row only (no event)',
  },
}
const label = (arm: string) => LABEL[arm] ?? arm
const plain = (arm: string) => label(arm).replaceAll('*', '')

type Cell = string | number | Summary
/** A Markdown table: the header names the columns (`a | b | c`); a Summary cell reads `median (range)`. */
function table(header: string, rows: Cell[][]): string {
  const text = (cell: Cell) =>
    typeof cell === 'string' ? cell : typeof cell === 'number' ? format(cell) : f(cell)
  const rule = `---${' | ---:'.repeat(header.split('|').length - 1)}`
  const lines = [header, rule, ...rows.map((row) => row.map(text).join(' | '))]
  return lines.map((line) => `| ${line} |`).join('\n')
}
const f2 = (summary: Summary) => f(summary, 2)
const point = (s: Summary): Point => ({ value: s.median, low: s.min, high: s.max })
/** The medians of a few figures, `a / b / c`, two significant digits each. */
const median2 = (summaries: Summary[]) => summaries.map((s) => format(s.median, 2)).join(' / ')
/** The median cores each named process used over some runs. */
const cores = (runs: Array<{ cpu: CpuUsage }>, names: string[]) =>
  median2(names.map((name) => summarize(runs.map((run) => run.cpu.processes[name] ?? Number.NaN))))
const kb = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KB` : `${bytes} B`)
const armsOf = (runs: Array<{ arm: string }>) => [...new Set(runs.map((run) => run.arm))]
const repeats = (n: number) => `${n} repeat${n > 1 ? 's' : ''}`
/** The arms that could not run here, and why. */
const skipped = (unavailable: Record<string, string>) => {
  const arms = Object.entries(unavailable).map(([arm, why]) => `\n- ${label(arm)}: not measured, ${why}`)
  return arms.length ? `\n${arms.join('')}` : ''
}

/** One arm of drain runs: rates, CPU seconds per 100k facts (reader, walsender, broker), peak RSS, cores. */
function figures(runs: DrainRun[], arm: string) {
  const of = (pick: (run: DrainRun) => number) => summarizeArm(runs, arm, pick)
  return {
    rate: of((r) => r.rate),
    steady: of((r) => r.steadyRate),
    overRecvlogical: pairedRatio(runs, arm, 'pg_recvlogical', (r) => r.rate),
    cpu: of((r) => r.cpuPerFact.reader / 10),
    walsender: of((r) => r.cpuPerFact.walsender / 10),
    kafka: of((r) => r.cpuPerFact.kafka / 10),
    peakRss: of((r) => r.peakRss / MiB),
    cores: [of((r) => r.cpu.processes.reader ?? Number.NaN), of((r) => r.cpu.ours), of((r) => r.cpu.foreign)],
  }
}

/** Each marked block's Markdown; undefined where this run measured nothing for it. */
function blocks(run: RunResults, chart: Chart): Record<string, string | undefined> {
  const r = run.results
  return {
    run: heading(run),
    glance: glance(r),
    machine: run.machine && machine(run.machine),
    'relay-throughput': r['relay-throughput'] && throughput(r['relay-throughput'], chart),
    'kafka-clients': r['relay-throughput'] && clients(r['relay-throughput']),
    'relay-codecs': r['relay-codecs'] && codecs(r['relay-codecs']),
    'relay-profile': r['relay-profile'] && profile(r['relay-profile']),
    'relay-latency': r['relay-latency'] && latency(r['relay-latency'], chart),
    'relay-memory': r['relay-memory'] && memory(r['relay-memory'], chart),
    outbox: r.outbox && outbox(r.outbox, chart),
    'kafka-jvm': r['kafka-jvm'] && jvm(r['kafka-jvm']),
    'emit-bundle': r['emit-bundle'] && bundle(r['emit-bundle'], chart),
    'emit-statement': r['emit-statement'] && statement(r['emit-statement']),
  }
}

function heading(run: RunResults): string {
  const when = `${(run.seconds / 60).toFixed(1)} min from ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC`
  const quick = run.quick ? `\n\n${QUICK}` : ''
  const failed = Object.entries(run.errors).map(([name, error]) => `\n- **${name} failed:** ${error}`)
  return (
    `Measured by \`${run.command}\` in ${when}; raw results \`${run.resultsFile}\` (git-ignored).${quick}` +
    `\n\n> **Machine noise: ${run.noise.verdict}**\n${failed.join('')}`
  )
}

function glance(results: Results): string | undefined {
  const runs = results['relay-throughput']?.payloads.find((p) => p.bytes === 1024)?.runs ?? []
  const relay = figures(runs, 'relay')
  const at1000 = (results['relay-latency']?.runs ?? []).filter((r) => r.bytes === 1024 && r.load === 1000)
  const [ack, consumer] = [at1000.map((r) => r.ack.p99), at1000.map((r) => r.consumer.p99)].map(summarize)
  const overBare = pairedRatio(runs, 'relay', 'bare-decode', (r) => r.rate)
  type Row = [figure: string, value: Summary | undefined, digits: number, goal?: Target]
  const rows: Row[] = [
    ['relay throughput ÷ pg_recvlogical, 1 KB facts', relay.overRecvlogical, 2, TARGET.throughput],
    ['relay CPU seconds per 100k facts, 1 KB', relay.cpu, 2, TARGET.cpu],
    ['relay peak RSS draining at full speed, MiB', relay.peakRss, 2, TARGET.rss],
    ['its Kafka client alone (no PostgreSQL), peak RSS, MiB', figures(runs, 'platformatic').peakRss, 2],
    ['p99 commit → Kafka ack at 1,000 facts/s, 1 KB, ms', ack, 2, TARGET.ackP99],
    ['p99 commit → consumer at 1,000 facts/s, 1 KB, ms', consumer, 3],
    ['relay facts/s, 1 KB', relay.rate, 3],
    ['relay ÷ bare decode, 1 KB', overBare, 2],
    ['relay with a no-op sink, CPU seconds per 100k facts', figures(runs, 'noop-relay').cpu, 2],
    ...pairs(results.outbox).map(
      ({ clients, tps }): Row => [`emit ÷ outbox, transactions/s at ${clients} clients`, tps, 2],
    ),
  ]
  // A figure this run did not measure is left out.
  const cells = rows.flatMap(([figure, value, digits, goal]) =>
    value?.n ? [[figure, f(value, digits), ...(goal ? [goal.text, goal.verdict(value.median)] : [])]] : [],
  )
  return cells.length ? table('figure | median (range) | target | ', cells) : undefined
}

function machine({ table: rows, settings }: MachineStamp): string {
  return `${table('machine | ', Object.entries(rows))}\n\n${settings.map((line) => `- ${line}`).join('\n')}`
}

function throughput({ payloads, repeats: n }: Result<'relay-throughput'>, chart: Chart): string {
  const rates = barChart({
    title: 'Draining a backlog of single-fact transactions (facts/s, higher is better)',
    yLabel: 'facts/s',
    categories: payloads.map((p) => `${kb(p.bytes)} payloads`),
    series: armsOf(payloads.flatMap((p) => p.runs)).map((arm) => ({
      name: plain(arm),
      values: payloads.map((p) => point(figures(p.runs, arm).rate)),
    })),
  })
  const header =
    'reader | facts/s | steady facts/s | ÷ pg_recvlogical | CPU s per 100k facts | its walsender | ' +
    'broker | peak RSS, MiB | cores: reader / ours / not ours'
  const parts = [chart('relay-throughput', 'facts/s', rates)]
  for (const { bytes, warm, facts, runs } of payloads) {
    const rows = armsOf(runs)
      .filter((arm) => !CLIENTS.includes(arm))
      .map((arm) => {
        const { rate, steady, overRecvlogical, cpu, walsender, kafka, peakRss, cores } = figures(runs, arm)
        return [label(arm), rate, steady, overRecvlogical, cpu, walsender, kafka, peakRss, median2(cores)]
      })
    const what = `a backlog of ${format(warm + facts)} (${format(warm)} of them warm-up), ${repeats(n)}`
    parts.push(`\n**${kb(bytes)} facts**, ${what}:\n\n${table(header, rows)}`)
  }
  const first = payloads[0]
  if (!first) return parts.join('\n')
  const arms = armsOf(first.runs)
  const names = { walsender: 'walsender', cpu: 'reader or producer process', kafka: 'Kafka broker' }
  const cpu = barChart({
    title: `CPU seconds per 100k facts, ${kb(first.bytes)} (lower is better)`,
    yLabel: 's',
    categories: arms.map(plain),
    series: (['walsender', 'cpu', 'kafka'] as const).map((key) => ({
      name: names[key],
      values: arms.map((arm) => point(figures(first.runs, arm)[key])),
    })),
    references: [{ value: TARGET.cpu.bound, label: `target: relay ≤ ${TARGET.cpu.bound} s` }],
  })
  return [...parts, '', chart('relay-cpu', 'CPU per 100k facts', cpu)].join('\n')
}

function clients({ payloads, unavailable }: Result<'relay-throughput'>): string {
  const rows = payloads.flatMap(({ bytes, runs }) =>
    armsOf(runs)
      .filter((arm) => CLIENTS.includes(arm))
      .map((arm) => {
        const { steady, cpu, kafka, peakRss } = figures(runs, arm)
        const relayOver = pairedRatio(runs, 'relay', arm, (r) => r.rate)
        return [`${label(arm)}, ${kb(bytes)}`, steady, cpu, kafka, peakRss, relayOver]
      }),
  )
  const header =
    'client alone | records/s | CPU s per 100k records | broker | peak RSS, MiB | relay ÷ this client'
  return table(header, rows) + skipped(unavailable)
}

function codecs(result: Result<'relay-codecs'>): string {
  const bytes = (codec: string) => summarizeArm(result.runs, codec, (r) => r.brokerBytesPerFact)
  const rows = armsOf(result.runs).map((codec) => {
    const { rate, cpu, kafka, peakRss } = figures(result.runs, codec)
    const overNone = format(bytes(codec).median / bytes('none').median, 2)
    return [codec, bytes(codec), overNone, rate, cpu, kafka, peakRss]
  })
  const header =
    'KAFKA_COMPRESSION | broker bytes per fact | ÷ none | facts/s | relay CPU s per 100k facts | broker | ' +
    'peak RSS, MiB'
  const what = `${kb(result.bytes)} facts, a backlog of ${format(result.warm + result.facts)}`
  return `${what}, ${repeats(result.repeats)}:\n\n${table(header, rows)}${skipped(result.unavailable)}`
}

function profile(p: Result<'relay-profile'>): string {
  const share = (e: (typeof p.byPackage)[number]) => `${(e.share * 100).toFixed(1)} %`
  const rows = (entries: typeof p.byPackage) =>
    entries.map((e) => [e.name.replaceAll('|', '\\|'), share(e), `${format(e.ms)} ms`])
  const what =
    `${format(p.facts)} facts of ${kb(p.bytes)}, ${format(p.factsPerSecond)} facts/s while profiled, ` +
    `relay ${format(p.relayCores, 2)} cores, ${format(p.windowMs)} ms of samples`
  return [
    `${what}.\n\n<details><summary>self time by package and the top functions</summary>`,
    table('package | share | self time', rows(p.byPackage)),
    table('function | share | self time', rows(p.topFunctions)),
    '</details>',
  ].join('\n\n')
}

function latency(result: Result<'relay-latency'>, chart: Chart): string {
  const n = result.repeats
  type Run = Result<'relay-latency'>['runs'][number]
  const of = (arm: string, pick: (run: Run) => number) => summarizeArm(result.runs, arm, pick)
  const quantiles = ['p50', 'p90', 'p99', 'max'] as const
  const offered = (arm: string) => (arm.endsWith('max') ? 'max' : `${format(Number(arm.split('|')[1]))}/s`)
  const header =
    'offered | achieved facts/s | p50 | p90 | p99 | max | pooled p99 | ack p50 | ack p99 | ' +
    'cores: relay / walsender / Kafka'
  const parts: string[] = []
  for (const bytes of new Set(result.runs.map((r) => r.bytes))) {
    const arms = armsOf(result.runs.filter((r) => r.bytes === bytes))
    const consumer = (arm: string) => quantiles.map((q) => of(arm, (r) => r.consumer[q]))
    const rows = arms.map((arm) => {
      const ack = [of(arm, (r) => r.ack.p50), of(arm, (r) => r.ack.p99)]
      const ofArm = result.runs.filter((r) => r.arm === arm)
      const used = cores(ofArm, ['relay', 'walsender', 'kafka'])
      const pooled = result.pooled[arm]?.p99 ?? Number.NaN
      return [offered(arm), of(arm, (r) => r.achieved), ...consumer(arm), pooled, ...ack, used]
    })
    const svg = lineChart({
      title: `Commit → consumer latency, ${kb(bytes)} facts (ms, log scale)`,
      yLabel: 'ms',
      xLabel: 'offered load',
      log: true,
      x: arms.map(offered),
      series: quantiles.map((q, i) => ({ name: q, values: arms.map((arm) => point(consumer(arm)[i]!)) })),
    })
    const note = `${kb(bytes)} facts, milliseconds, ${repeats(n)} of ${result.durationMs / 1000} s`
    parts.push(
      chart(`relay-latency-${bytes}`, `latency, ${kb(bytes)}`, svg),
      `\n${table(header, rows)}\n\n<sub>${note}.</sub>\n`,
    )
  }
  const short = result.runs.filter((r) => r.load !== 'max' && r.achieved < r.load * 0.9).length
  if (short)
    parts.push(`In ${short} run(s) the clients could not offer the load: that point measures a lower one.`)
  return parts.join('\n')
}

function memory(result: Result<'relay-memory'>, chart: Chart): string {
  type Run = (typeof result.runs)[number]
  type Peak = Omit<(typeof result.noopRuns)[number], 'arm' | 'rep'>
  const mib = <R>(runs: R[], pick: (run: R) => number) => `${f(summarize(runs.map(pick)), 3, 1 / MiB)} MiB`
  const relay = (pick: (run: Run) => number) => mib(result.runs, pick)
  // The peak split; results from before mapped files were measured have none.
  const files = (r: Peak) => r.fullSpeedPeakFiles ?? 0
  const rest = (r: Peak) => r.fullSpeedPeakRss - r.fullSpeedPeakHeap - r.fullSpeedPeakBuffers - files(r)
  const parts = [(r: Peak) => r.fullSpeedPeakHeap, (r: Peak) => r.fullSpeedPeakBuffers, files, rest]
  const ofWhich = (runs: Peak[]) => [
    '  of which the V8 heap (reserved) / Buffers outside it / mapped files (Node, libraries) / the rest',
    parts.map((part) => mib(runs, part)).join(' / '),
  ]
  const noop = result.noopRuns ?? []
  const noopPeak = `${mib(noop, (r) => r.startedRss)} / ${mib(noop, (r) => r.fullSpeedPeakRss)}`
  const seconds = (pick: (run: Run) => number) => f2(summarize(result.runs.map(pick)))
  const [recovery, broker] = [seconds((r) => r.recoverySeconds), seconds((r) => r.brokerSeconds)]
  const outage = `${relay((r) => r.outagePeakRss)} / ${relay((r) => r.outagePlateauRss)}`
  const bound = format(result.maxInflightBytes / MiB)
  const noopRows = [
    ['with a no-op sink (no Kafka client): started / full-speed peak', noopPeak],
    ofWhich(noop),
  ]
  const phases = table(`phase | RSS, ${repeats(result.repeats)}`, [
    ['started, before any fact', relay((r) => r.startedRss)],
    ['full speed, peak', relay((r) => r.fullSpeedPeakRss)],
    ofWhich(result.runs),
    ['full speed, median', relay((r) => r.fullSpeedMedianRss)],
    ['idle after draining', relay((r) => r.idleRss)],
    ['Kafka stopped, peak / plateau (second half)', outage],
    [`in flight while Kafka is stopped, peak (bound ${bound} MiB)`, relay((r) => r.outagePeakInflightBytes)],
    ['broker start → everything delivered', `${recovery} s (the broker was ready after ${broker} s)`],
    ...(noop.length ? noopRows : []),
  ])
  // The repeat with the median peak during the outage is charted.
  const run = [...result.runs].sort((a, b) => a.outagePeakRss - b.outagePeakRss)[result.runs.length >> 1]
  if (!run) return phases
  const bands: Array<{ from: number; to: number; label: string }> = []
  for (const { phase, t } of run.samples) {
    const last = bands.at(-1)
    if (last?.label === phase) last.to = t
    else bands.push({ from: t, to: t, label: phase })
  }
  const mibs = (pick: (sample: Run['samples'][number]) => number) =>
    run.samples.map((sample) => ({ value: pick(sample) / MiB }))
  const svg = lineChart({
    title: `Relay memory through a Kafka outage (repeat ${run.rep + 1})`,
    yLabel: 'MiB',
    xLabel: 'seconds',
    x: run.samples.map((s) => s.t),
    bands,
    series: [
      { name: 'RSS', values: mibs((s) => s.rss) },
      { name: 'in flight (read, not acknowledged)', values: mibs((s) => s.inflightBytes), dashed: true },
    ],
    references: [{ value: TARGET.rss.bound, label: `target ${TARGET.rss.bound} MiB at full speed` }],
  })
  return `${phases}\n\n${chart('relay-memory', 'relay memory over time', svg)}`
}

function outbox(result: Result<'outbox'>, chart: Chart): string {
  type Run = Result<'outbox'>['runs'][number]
  const [arms, clients] = [armsOf(result.runs), [...new Set(result.runs.map((r) => r.clients))]]
  const group = (arm: string, c: number) => result.runs.filter((r) => r.arm === arm && r.clients === c)
  const of = (arm: string, c: number, pick: (run: Run) => number) => summarize(group(arm, c).map(pick))
  const bars = (name: string, title: string, yLabel: string, pick: (run: Run) => number) => {
    const series = arms.map((arm) => ({
      name: label(arm),
      values: clients.map((c) => point(of(arm, c, pick))),
    }))
    const categories = clients.map((c) => `${c} client(s)`)
    return chart(name, title, barChart({ title, yLabel, categories, series }))
  }
  const rows = clients.flatMap((c) =>
    arms.map((arm) => {
      const at = (pick: (run: Run) => number) => of(arm, c, pick)
      const kib = (pick: (run: Run) => number) => `${f(at(pick), 3, 1 / 1024)} KiB`
      const [tps, wal] = [at((r) => r.perSecond), at((r) => r.walBytesPerTransaction)]
      const drained = arm === 'none' ? '–' : `${f2(at((r) => r.drainSeconds))} s`
      const used = cores(group(arm, c), ['postgres', 'delivery', 'kafka'])
      const [heap, index] = [kib((r) => r.outboxTable.bytes), kib((r) => r.outboxIndex.bytes)]
      const dead = at((r) => r.outboxTable.deadTuples)
      const bloat = arm === 'outbox' ? [heap, index, dead] : ['–', '–', '–']
      return [label(arm), c, tps, wal, drained, used, ...bloat]
    }),
  )
  const header =
    'arm | clients | transactions/s | WAL B/transaction | delivered after the load | ' +
    'cores: PostgreSQL / relay or worker / Kafka | outbox heap | its index | dead tuples'
  const ratios = pairs(result).map(({ clients: c, tps, wal }) => [c, f2(tps), f2(wal)])
  const tps = 'Business transactions per second (higher is better)'
  const wal = 'WAL bytes per transaction until every event is in Kafka'
  return [
    bars('outbox-transactions', tps, 'transactions/s', (r) => r.perSecond),
    bars('outbox-wal', wal, 'bytes', (r) => r.walBytesPerTransaction),
    table(header, rows),
    table('clients | emit ÷ outbox, transactions/s | emit ÷ outbox, WAL bytes', ratios),
  ].join('\n\n')
}

/** emit ÷ outbox, transactions/s and WAL bytes, paired within each repeat, per client count. */
function pairs(result: Result<'outbox'> | undefined) {
  return [...new Set(result?.runs.map((r) => r.clients))].map((clients) => {
    const runs = (result?.runs ?? []).filter((r) => r.clients === clients)
    const ratio = (pick: (run: (typeof runs)[number]) => number) => pairedRatio(runs, 'emit', 'outbox', pick)
    return { clients, tps: ratio((r) => r.perSecond), wal: ratio((r) => r.walBytesPerTransaction) }
  })
}

function jvm({ runs }: Result<'kafka-jvm'>): string {
  const [fast, defaults] = ['fast start (harness)', 'Kafka defaults (benchmarks)']
  const rows = [fast, defaults].map((arm) => [arm, figures(runs, arm).steady, f2(figures(runs, arm).kafka)])
  const speedup = f2(pairedRatio(runs, defaults, fast, (r) => r.steadyRate))
  const header = 'broker JVM | records/s | broker CPU s per 100k records'
  return `${table(header, rows)}\n\nKafka defaults ÷ fast start, records/s: ${speedup}.`
}

function bundle({ core, adapters, esbuild }: Result<'emit-bundle'>, chart: Chart): string {
  const entries = Object.entries(adapters)
  const totals = [core, ...entries.map(([, s]) => s)].map((s) => ({ value: s.gzipBytes }))
  const deltas = [undefined, ...entries.map(([, s]) => ({ value: s.gzipDeltaBytes }))]
  const svg = barChart({
    title: 'What a Worker pays to import @factlib/emit (bytes, gzip)',
    yLabel: 'bytes',
    format: (value: number) => String(Math.round(value)),
    categories: ['core', ...entries.map(([name]) => `+${name}`)],
    series: [
      { name: 'core + adapter, gzip', values: totals },
      { name: 'adapter alone (delta), gzip', values: deltas },
    ],
    references: [{ value: BUDGET.coreGzipBytes, label: 'core budget' }],
  })
  const row = (name: string, s: typeof core, delta?: number) => {
    const ok = delta === undefined ? s.gzipBytes <= BUDGET.coreGzipBytes : delta <= BUDGET.adapterGzipBytes
    const sizes = [s.minifiedBytes, s.gzipBytes, s.brotliBytes].map(String)
    return [name, ...sizes, delta === undefined ? '–' : `+${delta}`, ok ? 'ok' : '**over**']
  }
  const rows = [row('core', core), ...entries.map(([name, s]) => row(`+ ${name}`, s, s.gzipDeltaBytes))]
  const budget =
    `esbuild ${esbuild}; budget: core ≤ ${format(BUDGET.coreGzipBytes)} B gzipped, ` +
    `each adapter ≤ ${BUDGET.adapterGzipBytes} B more.`
  const header = 'import | minified | gzip | brotli | gzip over core | budget'
  return `${chart('emit-bundle', 'bundle sizes', svg)}\n\n${budget}\n\n${table(header, rows)}`
}

function statement({ postgres, rows }: Result<'emit-statement'>): string {
  const header =
    'facts per emit | server ms/statement | server µs/fact | round trips/emit | client ms/emit | ' +
    'parameter bytes/fact'
  // Each row's figures stand in the columns' order.
  const cells = rows.map((row) => Object.values(row))
  return `${postgres}, server time from pg_stat_statements:\n\n${table(header, cells)}`
}

/** Writes bench/README.md with each marked block rendered, and the charts, to `directory`. */
export function writeReport(run: RunResults, directory: string): string {
  const charts = new Map<string, string>()
  const chart: Chart = (name, alt, svg) => {
    charts.set(name, svg)
    return `![${alt}](charts/${name}.svg)`
  }
  let text = readFileSync(join(root, 'bench/README.md'), 'utf8')
  for (const [name, body = '_Not measured in this run._'] of Object.entries(blocks(run, chart))) {
    const block = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`)
    if (!block.test(text)) throw new Error(`bench/README.md has no <!-- bench:${name} --> block`)
    text = text.replace(block, (_, open: string, close: string) => `${open}${body}\n${close}`)
  }
  rmSync(join(directory, 'charts'), { recursive: true, force: true })
  mkdirSync(join(directory, 'charts'), { recursive: true })
  for (const [name, svg] of charts) writeFileSync(join(directory, 'charts', `${name}.svg`), svg)
  writeFileSync(join(directory, 'README.md'), text)
  return join(directory, 'README.md')
}
