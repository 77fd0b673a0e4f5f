import { createInterface } from 'node:readline'
import {
  createEmitter,
  type Emitter,
  type FactInput,
  FactlibError,
  type PreparedEmit,
  ValidationError,
} from '@factlib/emit'
import { errorMessage } from '../../util/error-fields.js'
import { UsageError } from '../command.js'

/** Facts per statement when reading standard input; all of them still commit in one transaction. */
const BATCH = 500

/** A fact to emit and the line of standard input it came from (`undefined`: from the flags). */
export interface FactLine {
  fact: Record<string, unknown>
  line: number | undefined
}

/** A fact the emitter refused: the emitter's `code`, `field` and `rule`, and the line it came from. */
export class FactInputError extends FactlibError {
  override readonly name = 'FactInputError'
  /** The fact field, e.g. `aggregateType` or `metadata.ce_id`. */
  declare readonly field: string
  /** The rule it broke, e.g. `pattern` or `reserved`. */
  declare readonly rule: string
  /** The line of standard input; `undefined` for a fact from the flags. */
  declare readonly line: number | undefined

  constructor(refused: ValidationError, line: number | undefined) {
    super(refused.code, `${at(line)}${refused.message}`, { cause: refused })
    this.field = refused.field
    this.rule = refused.rule
    this.line = line
  }
}

/** A failure as `factlib emit --json` prints it: code and message, and an invalid fact's field, rule, line. */
export function failureJson(error: FactlibError): { error: Record<string, unknown> } {
  const fact =
    error instanceof FactInputError ? { field: error.field, rule: error.rule, line: error.line } : {}
  return { error: { code: error.code, message: error.message, ...fact } }
}

const at = (line: number | undefined) => (line === undefined ? '' : `stdin line ${line}: `)

/** Validate every fact before any SQL is sent; one statement per source and batch, in input order. */
export function prepareAll(inputs: readonly FactLine[]): PreparedEmit[] {
  const statements: PreparedEmit[] = []
  let run: { source: string; lines: FactLine[] } | undefined
  for (const input of inputs) {
    const { source } = input.fact
    if (typeof source !== 'string')
      throw new UsageError(`${at(input.line)}the fact has no source: give --source, or "source" in the line`)
    if (run && (run.source !== source || run.lines.length >= BATCH)) {
      statements.push(prepare(run.source, run.lines))
      run = undefined
    }
    run ??= { source, lines: [] }
    run.lines.push(input)
  }
  if (run) statements.push(prepare(run.source, run.lines))
  return statements
}

/** One statement for facts of one source, or the first invalid one as a {@link FactInputError}. */
function prepare(source: string, lines: readonly FactLine[]): PreparedEmit {
  const facts = lines.map(({ fact }) => {
    const { source: _, ...rest } = fact
    return rest as unknown as FactInput
  })
  let emitter: Emitter | undefined
  try {
    emitter = createEmitter({ source })
    return emitter.prepare(facts)
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error
    const index = error.index ?? 0
    const fact = facts[index]
    // The emitter names a fact of a batch by its index (`invalid facts[3] …`), which means nothing to
    // whoever wrote the lines; the same fact alone fails with the single-fact wording (`invalid fact …`).
    const alone = emitter && fact && error.index !== undefined ? refusal(emitter, fact) : undefined
    throw new FactInputError(alone ?? error, lines[index]?.line)
  }
}

function refusal(emitter: Emitter, fact: FactInput): ValidationError | undefined {
  try {
    emitter.prepare(fact)
  } catch (error) {
    if (error instanceof ValidationError) return error
  }
  return undefined
}

/** The facts of standard input, one JSON object per line, over the defaults the flags give. */
export async function readLines(defaults: Record<string, unknown>): Promise<FactLine[]> {
  const lines: FactLine[] = []
  let number = 0
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    number += 1
    if (!text.trim()) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new UsageError(`${at(number)}invalid JSON (${errorMessage(error)})`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`${at(number)}expected a JSON object with the fields of a fact`)
    const fact: Record<string, unknown> = { ...defaults, ...parsed }
    // A line's own data or payload replaces the flag's, never both.
    if ('data' in parsed && !('payload' in parsed)) delete fact.payload
    if ('payload' in parsed && !('data' in parsed)) delete fact.data
    lines.push({ fact, line: number })
  }
  return lines
}
