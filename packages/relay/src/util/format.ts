/** `1536` → `1.5 KiB`; `null` → `unlimited`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'unlimited'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = Math.abs(bytes)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  const sign = bytes < 0 ? '-' : ''
  return unit === 0 ? `${sign}${value} B` : `${sign}${value.toFixed(1)} ${units[unit]}`
}

/** `0.25` → `0.3 s`, `75` → `1 m 15 s`; `null` → `n/a`. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'n/a'
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} m ${Math.round(seconds % 60)} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} m`
}

/** A rate with one decimal: `4.2`. */
export function formatRate(perSecond: number): string {
  return perSecond.toFixed(1)
}
