import { METRIC_DIMENSION, METRICS } from './metric-names.js'
import { SinkStall } from './sink-stall.js'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const
const RESERVOIR = 4096
/** Distinct prefixes of other tools' messages that get their own label; the rest count as `other`. */
const FOREIGN_PREFIX_LABELS = 20

/** What the relay measures; rendered as Prometheus text or as CloudWatch EMF lines. */
export class RelayMetrics {
  readonly #relayed = new Map<string, number>()
  readonly #deadLettered = new Map<string, number>()
  readonly #produceErrors = new Map<string, number>()
  readonly #foreign = new Map<string, number>()
  readonly #buckets = LATENCY_BUCKETS.map(() => 0)
  #latencyCount = 0
  #latencySum = 0
  /** Latency samples (seconds) since the last EMF line, reservoir-sampled. */
  #window: number[] = []
  #windowSeen = 0
  #emitted = { relayed: 0, deadLettered: 0, produceErrors: 0, foreign: 0 }
  /** How long the sink has been stuck: the pipeline reports its batches here, produce errors feed it. */
  readonly sinkStall = new SinkStall()

  slotLagBytes = 0
  slotLagSeconds = 0
  streaming = false
  walStatus: string | undefined
  inflightBytes = 0

  factRelayed(source: string, latencySeconds: number): void {
    this.#relayed.set(source, (this.#relayed.get(source) ?? 0) + 1)
    this.#latencyCount += 1
    this.#latencySum += latencySeconds
    for (let index = 0; index < LATENCY_BUCKETS.length; index++)
      if (latencySeconds <= (LATENCY_BUCKETS[index] ?? 0))
        this.#buckets[index] = (this.#buckets[index] ?? 0) + 1
    this.#windowSeen += 1
    if (this.#window.length < RESERVOIR) this.#window.push(latencySeconds)
    else {
      const slot = Math.floor(Math.random() * this.#windowSeen)
      if (slot < RESERVOIR) this.#window[slot] = latencySeconds
    }
  }

  deadLettered(reason: string): void {
    this.#deadLettered.set(reason, (this.#deadLettered.get(reason) ?? 0) + 1)
  }

  /**
   * A logical message of another tool was skipped. Returns whether its prefix is new (so the caller logs it
   * once); a prefix past the label bound is counted as `other`.
   */
  foreignMessage(prefix: string): boolean {
    const known = this.#foreign.has(prefix)
    const label = known || this.#foreign.size < FOREIGN_PREFIX_LABELS ? prefix : 'other'
    this.#foreign.set(label, (this.#foreign.get(label) ?? 0) + 1)
    return !known
  }

  produceError(kind: string): void {
    this.#produceErrors.set(kind, (this.#produceErrors.get(kind) ?? 0) + 1)
    this.sinkStall.error(kind)
  }

  /** Totals since start, for status displays and tests. */
  totals(): { relayed: number; deadLettered: number; produceErrors: number; foreign: number } {
    return {
      relayed: sum(this.#relayed),
      deadLettered: sum(this.#deadLettered),
      produceErrors: sum(this.#produceErrors),
      foreign: sum(this.#foreign),
    }
  }

  /** The Prometheus text exposition (format 0.0.4). */
  prometheus(): string {
    const lines: string[] = []
    const family = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    const labelled = (name: string, label: string, values: Map<string, number>) => {
      for (const [value, count] of values) lines.push(`${name}{${label}="${escapeLabel(value)}"} ${count}`)
    }
    family(METRICS.factsRelayed.prometheus, 'counter', 'Facts Kafka acknowledged.')
    labelled(METRICS.factsRelayed.prometheus, 'source', this.#relayed)
    family(METRICS.deadLettered.prometheus, 'counter', 'Facts sent to the dead-letter topic.')
    labelled(METRICS.deadLettered.prometheus, 'reason', this.#deadLettered)
    family(METRICS.foreignMessages.prometheus, 'counter', 'Logical messages of other tools, skipped.')
    labelled(METRICS.foreignMessages.prometheus, 'prefix', this.#foreign)
    family(METRICS.produceErrors.prometheus, 'counter', 'Failed produce attempts (each is retried).')
    labelled(METRICS.produceErrors.prometheus, 'kind', this.#produceErrors)
    family(
      METRICS.sinkStallSeconds.prometheus,
      'gauge',
      'Seconds since the oldest batch the sink has not acknowledged was first handed to it; 0 when none is with it. kind: the last failed attempt since then.',
    )
    lines.push(
      `${METRICS.sinkStallSeconds.prometheus}{kind="${escapeLabel(this.sinkStall.errorKind() ?? 'none')}"} ${this.sinkStall.seconds()}`,
    )
    family(
      METRICS.slotLagBytes.prometheus,
      'gauge',
      'pg_current_wal_lsn() minus the slot confirmed_flush_lsn.',
    )
    lines.push(`${METRICS.slotLagBytes.prometheus} ${this.slotLagBytes}`)
    family(
      METRICS.slotLagSeconds.prometheus,
      'gauge',
      'Age of the oldest unconfirmed transaction; 0 when none.',
    )
    lines.push(`${METRICS.slotLagSeconds.prometheus} ${this.slotLagSeconds}`)
    const latency = METRICS.endToEndLatency.prometheus
    family(latency, 'histogram', 'Commit time to Kafka acknowledgement.')
    for (const [index, bound] of LATENCY_BUCKETS.entries())
      lines.push(`${latency}_bucket{le="${bound}"} ${this.#buckets[index]}`)
    lines.push(`${latency}_bucket{le="+Inf"} ${this.#latencyCount}`)
    lines.push(`${latency}_sum ${this.#latencySum}`, `${latency}_count ${this.#latencyCount}`)
    family(METRICS.streaming.prometheus, 'gauge', '1 while this relay is the slot active reader.')
    lines.push(`${METRICS.streaming.prometheus} ${this.streaming ? 1 : 0}`)
    family(METRICS.slotWalStatus.prometheus, 'gauge', 'The slot wal_status, 1 for the current one.')
    for (const status of WAL_STATUSES)
      lines.push(
        `${METRICS.slotWalStatus.prometheus}{status="${status}"} ${this.walStatus === status ? 1 : 0}`,
      )
    family('factlib_inflight_bytes', 'gauge', 'Bytes read from the WAL and not yet acknowledged by the sink.')
    lines.push(`factlib_inflight_bytes ${this.inflightBytes}`)
    // The names prom-client's default metrics use, so existing Node dashboards pick them up.
    const memory = process.memoryUsage()
    for (const [name, help, value] of [
      ['process_resident_memory_bytes', 'Resident memory size in bytes.', memory.rss],
      ['nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes.', memory.heapTotal],
      ['nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', memory.heapUsed],
      ['nodejs_external_memory_bytes', 'Buffers outside the V8 heap, in bytes.', memory.external],
    ] as const) {
      family(name, 'gauge', help)
      lines.push(`${name} ${value}`)
    }
    return `${lines.join('\n')}\n`
  }

  /**
   * One CloudWatch embedded-metric-format line for the interval since the previous call: counts are
   * deltas, lags are current values, latency is the interval's p99. `Heartbeat` only while streaming.
   */
  emf(namespace: string, slot: string, now = Date.now()): string {
    const totals = this.totals()
    const values: Record<string, number> = {
      [METRICS.factsRelayed.emf]: totals.relayed - this.#emitted.relayed,
      [METRICS.deadLettered.emf]: totals.deadLettered - this.#emitted.deadLettered,
      [METRICS.produceErrors.emf]: totals.produceErrors - this.#emitted.produceErrors,
      [METRICS.foreignMessages.emf]: totals.foreign - this.#emitted.foreign,
      [METRICS.sinkStallSeconds.emf]: this.sinkStall.seconds(now),
      [METRICS.slotLagBytes.emf]: this.slotLagBytes,
      [METRICS.slotLagSeconds.emf]: this.slotLagSeconds,
    }
    const units: Record<string, string> = {
      [METRICS.factsRelayed.emf]: METRICS.factsRelayed.unit,
      [METRICS.deadLettered.emf]: METRICS.deadLettered.unit,
      [METRICS.produceErrors.emf]: METRICS.produceErrors.unit,
      [METRICS.foreignMessages.emf]: METRICS.foreignMessages.unit,
      [METRICS.sinkStallSeconds.emf]: METRICS.sinkStallSeconds.unit,
      [METRICS.slotLagBytes.emf]: METRICS.slotLagBytes.unit,
      [METRICS.slotLagSeconds.emf]: METRICS.slotLagSeconds.unit,
    }
    if (this.#window.length) {
      const sorted = [...this.#window].sort((a, b) => a - b)
      values[METRICS.endToEndLatencyP50.emf] = percentile(sorted, 0.5) * 1000
      units[METRICS.endToEndLatencyP50.emf] = METRICS.endToEndLatencyP50.unit
      values[METRICS.endToEndLatency.emf] = percentile(sorted, 0.99) * 1000
      units[METRICS.endToEndLatency.emf] = METRICS.endToEndLatency.unit
    }
    if (this.streaming) {
      values[METRICS.streaming.emf] = 1
      units[METRICS.streaming.emf] = METRICS.streaming.unit
    }
    this.#emitted = totals
    this.#window = []
    this.#windowSeen = 0
    return JSON.stringify({
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: [[METRIC_DIMENSION]],
            Metrics: Object.keys(values).map((name) => ({ Name: name, Unit: units[name] })),
          },
        ],
      },
      [METRIC_DIMENSION]: slot,
      ...values,
    })
  }
}

function sum(values: Map<string, number>): number {
  let total = 0
  for (const value of values.values()) total += value
  return total
}

/** The nearest-rank percentile of already sorted samples. */
function percentile(sorted: number[], quantile: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)] ?? 0
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}
