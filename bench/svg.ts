/** Bar and line charts as standalone SVG documents: no dependency, readable in GitHub's Markdown view. */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f']

/** A value with an optional spread drawn as a whisker (e.g. min and max over repeats). */
export interface Point {
  value: number
  low?: number
  high?: number
}

export interface Series {
  name: string
  values: Array<Point | undefined>
  dashed?: boolean
}

interface Chart {
  title: string
  yLabel: string
  series: Series[]
  /** Tick and label text. @default compact numbers */
  format?: (value: number) => string
  log?: boolean
  /** Horizontal reference lines, e.g. a target. */
  references?: Array<{ value: number; label: string }>
}

const [WIDTH, HEIGHT, LEFT, RIGHT] = [720, 360, 70, 700]
const esc = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
const text = (x: number, y: number, body: string, attributes = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${esc(body)}</text>`
const line = (x1: number, y1: number, x2: number, y2: number, attributes: string) =>
  `<line x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="${y1.toFixed(1)}" y2="${y2.toFixed(1)}" ${attributes}/>`
const color = (index: number) => PALETTE[index % PALETTE.length]

export function compact(value: number): string {
  const [scale, suffix] = Math.abs(value) >= 1e6 ? [1e6, 'M'] : Math.abs(value) >= 1e3 ? [1e3, 'k'] : [1, '']
  return Math.abs(value) >= 100 && !suffix
    ? String(Math.round(value))
    : `${Number((value / scale).toPrecision(3))}${suffix}`
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 2.5, 5, 10].find((step) => raw / power <= step) ?? 10) * power
}

/** Title, legend, y axis with ticks and reference lines; returns its parts and where the plot lies. */
function frame(chart: Chart, bottom: number) {
  const parts = [text(LEFT, 20, chart.title, 'font-size="15" font-weight="600"')]
  let [x, y] = [LEFT, 42]
  for (const [index, entry] of chart.series.entries()) {
    const width = 26 + entry.name.length * 6.6
    if (x > LEFT && x + width > RIGHT) [x, y] = [LEFT, y + 18]
    parts.push(
      entry.dashed
        ? line(x, y - 4, x + 14, y - 4, `stroke="${color(index)}" stroke-width="2" stroke-dasharray="4 3"`)
        : `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color(index)}"/>`,
      text(x + 18, y, entry.name, 'font-size="12"'),
    )
    x += width + 14
  }
  const top = y + 20
  const values = chart.series.flatMap((s) =>
    s.values.flatMap((p) => (p ? [p.value, p.high ?? p.value, p.low ?? p.value] : [])),
  )
  const all = [...values, ...(chart.references ?? []).map((r) => r.value)].filter(
    (v) => Number.isFinite(v) && (!chart.log || v > 0),
  )
  let toY: (value: number) => number
  const ticks: number[] = []
  if (chart.log) {
    const low = 10 ** Math.floor(Math.log10(Math.min(...all, 1)))
    const high = 10 ** Math.ceil(Math.log10(Math.max(...all, low * 10)))
    for (let tick = low; tick <= high * 1.0001; tick *= 10) ticks.push(tick)
    toY = (v) => bottom - (Math.log10(Math.max(v, low) / low) / Math.log10(high / low)) * (bottom - top)
  } else {
    const step = niceStep((Math.max(...all, 0) || 1) / 5)
    const high = Math.ceil((Math.max(...all, 0) || 1) / step) * step
    for (let tick = 0; tick <= high + step / 2; tick += step) ticks.push(tick)
    toY = (v) => bottom - (v / high) * (bottom - top)
  }
  const format = chart.format ?? compact
  parts.push(
    text(
      14,
      (top + bottom) / 2,
      chart.yLabel,
      `transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle" font-size="12"`,
    ),
  )
  for (const tick of ticks)
    parts.push(
      line(LEFT, toY(tick), RIGHT, toY(tick), 'stroke="#e5e5e5"'),
      text(LEFT - 6, toY(tick) + 4, format(tick), 'text-anchor="end" font-size="11" fill="#555"'),
    )
  for (const reference of chart.references ?? [])
    parts.push(
      line(LEFT, toY(reference.value), RIGHT, toY(reference.value), 'stroke="#c00" stroke-dasharray="6 4"'),
      text(
        RIGHT - 4,
        toY(reference.value) - 5,
        reference.label,
        'text-anchor="end" font-size="11" fill="#c00"',
      ),
    )
  parts.push(
    line(LEFT, bottom, RIGHT, bottom, 'stroke="#333"'),
    line(LEFT, top, LEFT, bottom, 'stroke="#333"'),
  )
  const whisker = (x: number, p: Point) =>
    p.low === undefined || p.high === undefined || p.low === p.high
      ? []
      : [toY(p.low), toY(p.high)]
          .map((end) => line(x - 4, end, x + 4, end, 'stroke="#222"'))
          .concat(line(x, toY(p.low), x, toY(p.high), 'stroke="#222"'))
  return { parts, top, toY, format, whisker }
}

const svg = (title: string, parts: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">
<title>${esc(title)}</title>
<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>
${parts.join('\n')}
</svg>
`

/** Grouped bars: one group per category, one bar per series, whiskers for the spread, the value on top. */
export function barChart(chart: Chart & { categories: string[] }): string {
  const bottom = HEIGHT - 30
  const { parts, toY, format, whisker } = frame(chart, bottom)
  const group = (RIGHT - LEFT) / chart.categories.length
  const bar = Math.min(56, (group * 0.8) / chart.series.length)
  for (const [c, category] of chart.categories.entries()) {
    const start = LEFT + group * c + (group - bar * chart.series.length) / 2
    for (const [s, entry] of chart.series.entries()) {
      const p = entry.values[c]
      if (!p || !Number.isFinite(p.value)) continue
      const [x, top] = [start + bar * s, toY(p.value)]
      parts.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${bar - 2}" height="${Math.max(0, bottom - top).toFixed(1)}" fill="${color(s)}"><title>${esc(`${entry.name}, ${category}: ${format(p.value)}`)}</title></rect>`,
        ...whisker(x + bar / 2, p),
        text(
          x + bar / 2,
          Math.min(top, toY(p.high ?? p.value)) - 4,
          format(p.value),
          'text-anchor="middle" font-size="10" fill="#333"',
        ),
      )
    }
    parts.push(text(LEFT + group * (c + 0.5), bottom + 18, category, 'text-anchor="middle" font-size="12"'))
  }
  return svg(chart.title, parts)
}

/** Lines over categories (evenly spaced, with whiskers) or numbers (to scale, with shaded labelled bands). */
export function lineChart(
  chart: Chart & {
    x: Array<string | number>
    xLabel: string
    bands?: Array<{ from: number; to: number; label: string }>
  },
): string {
  const bottom = HEIGHT - 44
  const numeric = chart.x.every((value) => typeof value === 'number')
  const xs = numeric ? (chart.x as number[]) : chart.x.map((_, i) => i)
  const [min, max] = [Math.min(...xs) - (numeric ? 0 : 0.5), Math.max(...xs) + (numeric ? 0 : 0.5)]
  const toX = (value: number) => LEFT + ((value - min) / (max - min || 1)) * (RIGHT - LEFT)
  const { parts, top, toY, format, whisker } = frame(chart, bottom)
  const bands = (chart.bands ?? []).flatMap((band, i) => [
    `<rect x="${toX(band.from).toFixed(1)}" y="${top}" width="${Math.max(0, toX(band.to) - toX(band.from)).toFixed(1)}" height="${bottom - top}" fill="${i % 2 ? '#f4f4f4' : '#ececf6'}"/>`,
    text(
      (toX(band.from) + toX(band.to)) / 2,
      bottom - 6,
      band.label,
      'text-anchor="middle" font-size="11" fill="#555"',
    ),
  ])
  const step = niceStep((max - min) / 8 || 1)
  const ticks = numeric
    ? Array.from(
        { length: Math.floor(max / step) - Math.ceil(min / step) + 1 },
        (_, i) => (Math.ceil(min / step) + i) * step,
      )
    : []
  for (const [i, label] of (numeric ? ticks : chart.x).entries())
    parts.push(
      text(
        toX(numeric ? (label as number) : i),
        bottom + 16,
        numeric ? compact(label as number) : String(label),
        'text-anchor="middle" font-size="11"',
      ),
    )
  parts.push(text((LEFT + RIGHT) / 2, bottom + 34, chart.xLabel, 'text-anchor="middle" font-size="12"'))
  for (const [s, entry] of chart.series.entries()) {
    const points = entry.values.flatMap((p, i) =>
      p && Number.isFinite(p.value) ? [{ x: toX(xs[i] as number), p }] : [],
    )
    const path = points.map(({ x, p }) => `${x.toFixed(1)},${toY(p.value).toFixed(1)}`).join(' ')
    parts.push(
      `<polyline fill="none" stroke="${color(s)}" stroke-width="2"${entry.dashed ? ' stroke-dasharray="6 4"' : ''} points="${path}"/>`,
    )
    if (!numeric)
      for (const { x, p } of points)
        parts.push(
          ...whisker(x, p),
          `<circle cx="${x.toFixed(1)}" cy="${toY(p.value).toFixed(1)}" r="3.5" fill="${color(s)}"><title>${esc(`${entry.name}: ${format(p.value)}`)}</title></circle>`,
        )
  }
  return svg(chart.title, [...bands, ...parts])
}
