import type { CheckResult } from '../wal/prerequisites.js'

/** Rows as left-aligned columns, two spaces apart; the last column is never padded. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length)
    })
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n')
}

const MARK: Record<CheckResult['status'], string> = { pass: '✓ pass', warn: '! warn', fail: '✗ FAIL' }

/**
 * Checks as a table (status, title, detail), each failed or warned check followed by its fix, and a
 * closing count: what `doctor` and `setup` print.
 */
export function checksTable(checks: readonly CheckResult[]): string {
  const lines: string[] = []
  const width = Math.max(...checks.map((check) => check.title.length))
  const pad = ' '.repeat(2 + MARK.pass.length + 2 + width + 2)
  for (const check of checks) {
    lines.push(table([[MARK[check.status], check.title.padEnd(width), check.detail]]))
    if (check.status !== 'pass' && check.fix)
      lines.push(...fixLines(check).map((line, index) => `${pad}${index === 0 ? 'fix: ' : '     '}${line}`))
  }
  const failed = checks.filter((check) => check.status === 'fail').length
  const warned = checks.filter((check) => check.status === 'warn').length
  lines.push(
    '',
    failed === 0 && warned === 0
      ? `All ${checks.length} checks passed.`
      : failed === 0
        ? `No check failed; ${warned} of ${checks.length} warned.`
        : `${failed} of ${checks.length} checks failed${warned ? `, ${warned} warned` : ''}.`,
  )
  return lines.join('\n')
}

/** A fix that differs by provider reads better as one line each: self-managed first, then `RDS: …`. */
function fixLines({ fix, fixes }: CheckResult): string[] {
  if (!fixes?.length) return fix ? [fix] : []
  return fixes.map((each, index) => (index === 0 ? each.fix : `${each.name}: ${each.fix}`))
}
