/** A figure measured several times: the median and the range of the repeats, their spread in percent. */
export type Summary = ReturnType<typeof summarize>

export function summarize(values: number[]) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  const [min = Number.NaN, max = Number.NaN] = [sorted[0], sorted.at(-1)]
  // The median of an even count is the mean of the middle two.
  const middle = [sorted[Math.floor((sorted.length - 1) / 2)], sorted[Math.ceil((sorted.length - 1) / 2)]]
  const median = ((middle[0] ?? Number.NaN) + (middle[1] ?? Number.NaN)) / 2
  return {
    median,
    min,
    max,
    n: sorted.length,
    spreadPct: median ? ((max - min) / Math.abs(median)) * 100 : 0,
  }
}

/** Runs of arms that alternated within repeats. */
type ArmRun = { arm: string; rep: number }

/** One arm's figure over its repeats. */
export const summarizeArm = <T extends ArmRun>(runs: T[], arm: string, pick: (run: T) => number): Summary =>
  summarize(runs.filter((run) => run.arm === arm).map(pick))

/** `a ÷ b` of a figure, paired within each repeat (arms of one repeat ran back to back). */
export function pairedRatio<T extends ArmRun>(runs: T[], a: string, b: string, pick: (run: T) => number) {
  const of = (arm: string, rep: number) => {
    const run = runs.find((candidate) => candidate.arm === arm && candidate.rep === rep)
    return run ? pick(run) : Number.NaN
  }
  return summarize([...new Set(runs.map((run) => run.rep))].map((rep) => of(a, rep) / of(b, rep)))
}

/** The arms in the order of a repeat: each repeat starts with another one, so none always runs first. */
export const rotate = <T>(items: readonly T[], by: number): T[] =>
  items.map((_, i) => items[(i + by) % items.length] as T)

/** Latency percentiles of raw samples (nearest rank: p99 is a latency that really happened). */
export function percentiles(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { count: sorted.length, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: rank(1) }
}

/** A quantile of a cumulative histogram as Prometheus' `histogram_quantile`: linear within its bucket. */
export function histogramQuantile(buckets: ReadonlyArray<{ le: number; count: number }>, q: number): number {
  const target = q * (buckets.at(-1)?.count ?? 0)
  const i = buckets.findIndex((bucket) => bucket.count >= target)
  const [previous, bucket] = [buckets[i - 1] ?? { le: 0, count: 0 }, buckets[i]]
  if (target === 0 || !bucket) return Number.NaN
  if (!Number.isFinite(bucket.le)) return previous.le
  const inBucket = bucket.count - previous.count
  return previous.le + (bucket.le - previous.le) * (inBucket ? (target - previous.count) / inBucket : 0)
}

/** `12345.6` → `12,346`; small numbers keep `digits` significant digits. */
export function format(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US')
  if (value === 0) return '0'
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 })
}

/** `median (min–max)`, scaled by `factor`. */
export function formatSummary(summary: Summary | undefined, digits = 3, factor = 1): string {
  if (!summary || summary.n === 0) return '–'
  const [median, min, max] = [summary.median, summary.min, summary.max].map((v) => format(v * factor, digits))
  return summary.n === 1 ? `${median}` : `${median} (${min}–${max})`
}
