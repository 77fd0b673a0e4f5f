/** A figure measured several times: the median and the spread (the range of the repeats). */
export interface Summary {
  median: number
  min: number
  max: number
  n: number
  /** (max − min) / median, in percent. */
  spreadPct: number
  values: number[]
}

export function summarize(values: number[]): Summary {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  const median = quantile(sorted, 0.5)
  const min = sorted[0] ?? Number.NaN
  const max = sorted[sorted.length - 1] ?? Number.NaN
  return {
    median,
    min,
    max,
    n: sorted.length,
    spreadPct: median ? ((max - min) / Math.abs(median)) * 100 : 0,
    values,
  }
}

/** Linear interpolation between closest ranks (the median of an even count is the mean of the middle two). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const low = Math.floor(position)
  const high = Math.ceil(position)
  const a = sorted[low] as number
  const b = sorted[high] as number
  return a + (b - a) * (position - low)
}

/** Latency percentiles of raw samples (nearest rank: p99 is a latency that really happened). */
export interface Percentiles {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
}

export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return {
    count: sorted.length,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  }
}

/**
 * A quantile of a cumulative histogram (Prometheus `histogram_quantile`): linear within the bucket that
 * holds it, so it is only as precise as the buckets.
 */
export function histogramQuantile(buckets: ReadonlyArray<{ le: number; count: number }>, q: number): number {
  const total = buckets[buckets.length - 1]?.count ?? 0
  if (total === 0) return Number.NaN
  const target = q * total
  let previous = { le: 0, count: 0 }
  for (const bucket of buckets) {
    if (bucket.count >= target) {
      if (!Number.isFinite(bucket.le)) return previous.le
      const inBucket = bucket.count - previous.count
      return previous.le + (bucket.le - previous.le) * (inBucket ? (target - previous.count) / inBucket : 0)
    }
    previous = bucket
  }
  return previous.le
}

/** `12345.6` → `12,346`; small numbers keep `digits` significant decimals. */
export function format(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  if (abs >= 100) return Math.round(value).toLocaleString('en-US')
  if (abs === 0) return '0'
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 })
}

/** `median (min–max)` */
export function formatSummary(summary: Summary | undefined, digits = 3, unit = ''): string {
  if (!summary || summary.n === 0) return '–'
  if (summary.n === 1) return `${format(summary.median, digits)}${unit}`
  return `${format(summary.median, digits)}${unit} (${format(summary.min, digits)}–${format(summary.max, digits)})`
}
