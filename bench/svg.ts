/** Bar and line charts as standalone SVG documents: no dependency, readable in GitHub's Markdown view. */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f']

/** A value with an optional spread drawn as a whisker (e.g. min and max over repeats). */
export type Point = { value: number; low?: number; high?: number }

interface Chart {
  title: string
  yLabel: string
  series: Array<{ name: string; values: Array<Point | undefined>; dashed?: boolean }>
  /** Tick and label text (compact numbers by default), a log scale, horizontal lines such as a target. */
  format?: (value: number) => string
  log?: boolean
  references?: Array<{ value: number; label: string }>
}

const [WIDTH, HEIGHT, LEFT, RIGHT] = [720, 360, 70, 700]
const [MIDDLE, END] = ['text-anchor="middle"', 'text-anchor="end"']
const color = (index: number) => PALETTE[index % PALETTE.length]
const esc = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
const px = (value: number) => value.toFixed(1)
const text = (x: number, y: number, body: string, attributes = '') =>
  `<text x="${px(x)}" y="${px(y)}" ${attributes}>${esc(body)}</text>`
const line = (x1: number, y1: number, x2: number, y2: number, attributes: string) =>
  `<line x1="${px(x1)}" x2="${px(x2)}" y1="${px(y1)}" y2="${px(y2)}" ${attributes}/>`
const rect = (x: number, y: number, width: number, height: number, attributes: string) =>
  `<rect x="${px(x)}" y="${px(y)}" width="${px(width)}" height="${px(height)}" ${attributes}/>`

function compact(value: number): string {
  const [scale, suffix] = Math.abs(value) >= 1e6 ? [1e6, 'M'] : Math.abs(value) >= 1e3 ? [1e3, 'k'] : [1, '']
  return Math.abs(value) >= 100 && !suffix
    ? String(Math.round(value))
    : `${Number((value / scale).toPrecision(3))}${suffix}`
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 2.5, 5, 10].find((step) => raw / power <= step) ?? 10) * power
}

/** Title, legend, y axis with ticks and reference lines; returns the parts, the plot's top, and the scale. */
function frame(chart: Chart, bottom: number) {
  const parts = [text(LEFT, 20, chart.title, 'font-size="15" font-weight="600"')]
  let [x, y] = [LEFT, 42]
  for (const [index, { name, dashed }] of chart.series.entries()) {
    const width = 26 + name.length * 6.6
    if (x > LEFT && x + width > RIGHT) [x, y] = [LEFT, y + 18]
    const dash = `stroke="${color(index)}" stroke-width="2" stroke-dasharray="4 3"`
    const key = dashed
      ? line(x, y - 4, x + 14, y - 4, dash)
      : rect(x, y - 10, 12, 12, `fill="${color(index)}"`)
    parts.push(key, text(x + 18, y, name, 'font-size="12"'))
    x += width + 14
  }
  const top = y + 20
  const points = chart.series.flatMap((s) => s.values.flatMap((p) => (p ? [p.value, p.high, p.low] : [])))
  const all = [...points, ...(chart.references ?? []).map((r) => r.value)].filter(
    (v): v is number => v !== undefined && Number.isFinite(v) && (!chart.log || v > 0),
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
  const middle = (top + bottom) / 2
  parts.push(text(14, middle, chart.yLabel, `transform="rotate(-90 14 ${middle})" ${MIDDLE} font-size="12"`))
  for (const tick of ticks)
    parts.push(
      line(LEFT, toY(tick), RIGHT, toY(tick), 'stroke="#e5e5e5"'),
      text(LEFT - 6, toY(tick) + 4, format(tick), `${END} font-size="11" fill="#555"`),
    )
  for (const { value, label } of chart.references ?? [])
    parts.push(
      line(LEFT, toY(value), RIGHT, toY(value), 'stroke="#c00" stroke-dasharray="6 4"'),
      text(RIGHT - 4, toY(value) - 5, label, `${END} font-size="11" fill="#c00"`),
    )
  parts.push(
    line(LEFT, bottom, RIGHT, bottom, 'stroke="#333"'),
    line(LEFT, top, LEFT, bottom, 'stroke="#333"'),
  )
  const whisker = (x: number, { low, high }: Point) =>
    low === undefined || high === undefined || low === high
      ? []
      : [low, high]
          .map((end) => line(x - 4, toY(end), x + 4, toY(end), 'stroke="#222"'))
          .concat(line(x, toY(low), x, toY(high), 'stroke="#222"'))
  return { parts, top, toY, format, whisker }
}

const svg = (title: string, parts: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${WIDTH}" height="${HEIGHT}"
 viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">
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
    for (const [s, { values }] of chart.series.entries()) {
      const p = values[c]
      if (!p || !Number.isFinite(p.value)) continue
      const [x, top] = [start + bar * s, toY(p.value)]
      const above = Math.min(top, toY(p.high ?? p.value)) - 4
      parts.push(
        rect(x + 1, top, bar - 2, Math.max(0, bottom - top), `fill="${color(s)}"`),
        ...whisker(x + bar / 2, p),
        text(x + bar / 2, above, format(p.value), `${MIDDLE} font-size="10" fill="#333"`),
      )
    }
    parts.push(text(LEFT + group * (c + 0.5), bottom + 18, category, `${MIDDLE} font-size="12"`))
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
  const { parts, top, toY, whisker } = frame(chart, bottom)
  const bands = (chart.bands ?? []).flatMap(({ from, to, label }, i) => {
    const [left, right, fill] = [toX(from), toX(to), i % 2 ? '#f4f4f4' : '#ececf6']
    const shade = rect(left, top, Math.max(0, right - left), bottom - top, `fill="${fill}"`)
    return [shade, text((left + right) / 2, bottom - 6, label, `${MIDDLE} font-size="11" fill="#555"`)]
  })
  // Numbers get ticks of their own, categories a label each.
  const step = niceStep((max - min) / 8 || 1)
  const first = Math.ceil(min / step)
  const ticks = Array.from({ length: Math.floor(max / step) - first + 1 }, (_, i) => (first + i) * step)
  const labels = numeric
    ? ticks.map((tick) => [tick, compact(tick)] as const)
    : chart.x.map((x, i) => [i, `${x}`] as const)
  for (const [at, label] of labels) parts.push(text(toX(at), bottom + 16, label, `${MIDDLE} font-size="11"`))
  parts.push(text((LEFT + RIGHT) / 2, bottom + 34, chart.xLabel, `${MIDDLE} font-size="12"`))
  for (const [s, { values, dashed }] of chart.series.entries()) {
    const points = values.flatMap((p, i) =>
      p && Number.isFinite(p.value) ? [{ x: toX(xs[i] ?? 0), p }] : [],
    )
    const path = points.map(({ x, p }) => `${px(x)},${px(toY(p.value))}`).join(' ')
    const dashes = dashed ? ' stroke-dasharray="6 4"' : ''
    parts.push(`<polyline fill="none" stroke="${color(s)}" stroke-width="2"${dashes} points="${path}"/>`)
    const dot = (x: number, p: Point) =>
      `<circle cx="${px(x)}" cy="${px(toY(p.value))}" r="3.5" fill="${color(s)}"/>`
    for (const { x, p } of numeric ? [] : points) parts.push(...whisker(x, p), dot(x, p))
  }
  return svg(chart.title, [...bands, ...parts])
}
