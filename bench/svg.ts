/** Bar and line charts as standalone SVG documents: no dependency, readable in GitHub's Markdown view. */

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f']
const FONT = 'font-family="-apple-system, BlinkMacSystemFont, Segoe UI, Helvetica, Arial, sans-serif"'

/** A value with an optional spread drawn as a whisker (e.g. min and max over repeats). */
export interface Point {
  value: number
  low?: number
  high?: number
}

export interface Series {
  name: string
  values: Array<Point | undefined>
  color?: string
  dashed?: boolean
}

interface Frame {
  title: string
  yLabel: string
  width?: number
  height?: number
  /** Tick and label text. @default compact numbers */
  format?: (value: number) => string
  log?: boolean
  /** Horizontal reference lines, e.g. a target. */
  references?: Array<{ value: number; label: string }>
}

export interface BarChart extends Frame {
  categories: string[]
  series: Series[]
}

export interface LineChart extends Frame {
  /** Category labels (evenly spaced) or numbers (to scale). */
  x: Array<string | number>
  xLabel: string
  series: Series[]
  /** Shaded spans of x with a label, e.g. phases. */
  bands?: Array<{ from: number; to: number; label: string }>
}

const escapeXml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

export function compact(value: number): string {
  const abs = Math.abs(value)
  if (abs >= 1e9) return `${trim(value / 1e9)}G`
  if (abs >= 1e6) return `${trim(value / 1e6)}M`
  if (abs >= 1e3) return `${trim(value / 1e3)}k`
  if (abs >= 100) return String(Math.round(value))
  return trim(value)
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)))
}

interface Scale {
  toY(value: number): number
  ticks: number[]
}

function scale(values: number[], top: number, bottom: number, log: boolean, references: number[]): Scale {
  const all = [...values, ...references].filter((value) => Number.isFinite(value) && (!log || value > 0))
  if (log) {
    const low = 10 ** Math.floor(Math.log10(Math.min(...all, 1)))
    const high = 10 ** Math.ceil(Math.log10(Math.max(...all, low * 10)))
    const ticks: number[] = []
    for (let tick = low; tick <= high * 1.0001; tick *= 10) ticks.push(tick)
    const span = Math.log10(high) - Math.log10(low)
    return {
      toY: (value) => bottom - ((Math.log10(Math.max(value, low)) - Math.log10(low)) / span) * (bottom - top),
      ticks,
    }
  }
  const max = Math.max(...all, 0) || 1
  const step = niceStep(max / 5)
  const high = Math.ceil(max / step) * step
  const ticks: number[] = []
  for (let tick = 0; tick <= high + step / 2; tick += step) ticks.push(tick)
  return { toY: (value) => bottom - (value / high) * (bottom - top), ticks }
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10) * power
}

function frame(
  chart: Frame,
  plot: { left: number; right: number; top: number; bottom: number },
  y: Scale,
): string[] {
  const format = chart.format ?? compact
  const parts = [
    `<text x="${plot.left}" y="20" font-size="15" font-weight="600">${escapeXml(chart.title)}</text>`,
    `<text transform="translate(14 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(chart.yLabel)}</text>`,
  ]
  for (const tick of y.ticks) {
    const at = y.toY(tick)
    parts.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${at}" y2="${at}" stroke="#e5e5e5"/>`,
      `<text x="${plot.left - 6}" y="${at + 4}" text-anchor="end" font-size="11" fill="#555">${escapeXml(format(tick))}</text>`,
    )
  }
  for (const reference of chart.references ?? []) {
    const at = y.toY(reference.value)
    parts.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${at}" y2="${at}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${plot.right - 4}" y="${at - 5}" text-anchor="end" font-size="11" fill="#c00">${escapeXml(reference.label)}</text>`,
    )
  }
  parts.push(
    `<line x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}" stroke="#333"/>`,
    `<line x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${plot.bottom}" stroke="#333"/>`,
  )
  return parts
}

/** The legend under the title, wrapped into rows that fit; returns its parts and the height it takes. */
function legend(
  series: Series[],
  left: number,
  right: number,
  top: number,
): { parts: string[]; height: number } {
  const parts: string[] = []
  let at = left
  let y = top + 12
  for (const [index, entry] of series.entries()) {
    const color = entry.color ?? PALETTE[index % PALETTE.length]
    const width = 26 + entry.name.length * 6.6
    if (at > left && at + width > right) {
      at = left
      y += 18
    }
    parts.push(
      entry.dashed
        ? `<line x1="${at}" x2="${at + 14}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`
        : `<rect x="${at}" y="${y - 10}" width="12" height="12" fill="${color}"/>`,
      `<text x="${at + 18}" y="${y}" font-size="12">${escapeXml(entry.name)}</text>`,
    )
    at += width + 14
  }
  return { parts, height: y - top + 6 }
}

function svg(width: number, height: number, title: string, parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ${FONT}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}

function whisker(x: number, y: Scale, point: Point): string[] {
  if (point.low === undefined || point.high === undefined || point.low === point.high) return []
  const [low, high] = [y.toY(point.low), y.toY(point.high)]
  return [
    `<line x1="${x}" x2="${x}" y1="${low}" y2="${high}" stroke="#222"/>`,
    `<line x1="${x - 4}" x2="${x + 4}" y1="${low}" y2="${low}" stroke="#222"/>`,
    `<line x1="${x - 4}" x2="${x + 4}" y1="${high}" y2="${high}" stroke="#222"/>`,
  ]
}

/** Grouped bars: one group per category, one bar per series, whiskers for the spread, value on top. */
export function barChart(chart: BarChart): string {
  const width = chart.width ?? 720
  const height = chart.height ?? 360
  const key = legend(chart.series, 70, width - 20, 30)
  const plot = { left: 70, right: width - 20, top: 44 + key.height, bottom: height - 30 }
  const values = chart.series.flatMap((entry) =>
    entry.values.flatMap((point) => (point ? [point.value, point.high ?? point.value] : [])),
  )
  const y = scale(
    values,
    plot.top,
    plot.bottom,
    chart.log ?? false,
    (chart.references ?? []).map((r) => r.value),
  )
  const format = chart.format ?? compact
  const parts = frame(chart, plot, y)
  const group = (plot.right - plot.left) / chart.categories.length
  const bar = Math.min(56, (group * 0.8) / chart.series.length)
  for (const [c, category] of chart.categories.entries()) {
    const start = plot.left + group * c + (group - bar * chart.series.length) / 2
    for (const [s, entry] of chart.series.entries()) {
      const point = entry.values[c]
      if (!point || !Number.isFinite(point.value)) continue
      const x = start + bar * s
      const top = y.toY(point.value)
      const color = entry.color ?? PALETTE[s % PALETTE.length]
      parts.push(
        `<rect x="${x + 1}" y="${top}" width="${bar - 2}" height="${Math.max(0, plot.bottom - top)}" fill="${color}"><title>${escapeXml(`${entry.name}, ${category}: ${format(point.value)}`)}</title></rect>`,
        ...whisker(x + bar / 2, y, point),
        `<text x="${x + bar / 2}" y="${Math.min(top, point.high === undefined ? top : y.toY(point.high)) - 4}" text-anchor="middle" font-size="10" fill="#333">${escapeXml(format(point.value))}</text>`,
      )
    }
    parts.push(
      `<text x="${plot.left + group * (c + 0.5)}" y="${plot.bottom + 18}" text-anchor="middle" font-size="12">${escapeXml(category)}</text>`,
    )
  }
  parts.push(...key.parts)
  return svg(width, height, chart.title, parts)
}

/** Lines over categories or numbers, whiskers for the spread, optional log scale and shaded bands. */
export function lineChart(chart: LineChart): string {
  const width = chart.width ?? 720
  const height = chart.height ?? 360
  const key = legend(chart.series, 70, width - 20, 30)
  const plot = { left: 70, right: width - 20, top: 44 + key.height, bottom: height - 44 }
  const values = chart.series.flatMap((entry) =>
    entry.values.flatMap((point) =>
      point ? [point.value, point.high ?? point.value, point.low ?? point.value] : [],
    ),
  )
  const y = scale(
    values,
    plot.top,
    plot.bottom,
    chart.log ?? false,
    (chart.references ?? []).map((r) => r.value),
  )
  const numeric = chart.x.every((value) => typeof value === 'number')
  const xs = chart.x as number[]
  const [minX, maxX] = numeric ? [Math.min(...xs), Math.max(...xs)] : [0, chart.x.length - 1]
  const toX = (index: number) => {
    const value = numeric ? (xs[index] as number) : index
    const span = maxX - minX || 1
    const pad = numeric ? 0 : 0.5
    return plot.left + ((value - minX + pad) / (span + 2 * pad)) * (plot.right - plot.left)
  }
  const bandX = (value: number) =>
    plot.left + ((value - minX) / (maxX - minX || 1)) * (plot.right - plot.left)
  const parts: string[] = []
  for (const [index, band] of (chart.bands ?? []).entries()) {
    const [from, to] = [bandX(band.from), bandX(band.to)]
    parts.push(
      `<rect x="${from}" y="${plot.top}" width="${Math.max(0, to - from)}" height="${plot.bottom - plot.top}" fill="${index % 2 ? '#f4f4f4' : '#ececf6'}"/>`,
      `<text x="${(from + to) / 2}" y="${plot.bottom - 6}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(band.label)}</text>`,
    )
  }
  parts.push(...frame(chart, plot, y))
  const format = chart.format ?? compact
  if (numeric) {
    const step = niceStep((maxX - minX) / 8 || 1)
    for (let tick = Math.ceil(minX / step) * step; tick <= maxX; tick += step)
      parts.push(
        `<text x="${bandX(tick)}" y="${plot.bottom + 16}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(compact(tick))}</text>`,
      )
  } else
    for (const [index, label] of chart.x.entries())
      parts.push(
        `<text x="${toX(index)}" y="${plot.bottom + 16}" text-anchor="middle" font-size="12">${escapeXml(String(label))}</text>`,
      )
  parts.push(
    `<text x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 34}" text-anchor="middle" font-size="12">${escapeXml(chart.xLabel)}</text>`,
  )
  for (const [s, entry] of chart.series.entries()) {
    const color = entry.color ?? PALETTE[s % PALETTE.length]
    const points = entry.values.flatMap((point, index) =>
      point && Number.isFinite(point.value) ? [{ x: toX(index), point }] : [],
    )
    if (points.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${entry.dashed ? ' stroke-dasharray="6 4"' : ''} points="${points
          .map(({ x, point }) => `${x.toFixed(1)},${y.toY(point.value).toFixed(1)}`)
          .join(' ')}"/>`,
      )
    if (!numeric)
      for (const { x, point } of points)
        parts.push(
          ...whisker(x, y, point),
          `<circle cx="${x}" cy="${y.toY(point.value)}" r="3.5" fill="${color}"><title>${escapeXml(`${entry.name}: ${format(point.value)}`)}</title></circle>`,
        )
  }
  parts.push(...key.parts)
  return svg(width, height, chart.title, parts)
}
