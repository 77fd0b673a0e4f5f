import { createInterface } from 'node:readline'
import { createEmitter, type Fact, type FactInput, FactlibError, type PreparedEmit } from '@factlib/emit'
import pg from 'pg'
import { redactUrl } from '../../config/config.js'
import { explainConnectError } from '../../wal/prerequisites.js'
import { type Command, parseFlags, UsageError } from '../command.js'

/** Facts per statement when reading standard input; all of them still commit in one transaction. */
const BATCH = 500

export const emitCommand: Command = {
  name: 'emit',
  help: `Usage: factlib emit [flags]
       factlib emit [flags] -        # JSON lines from standard input

Emits one fact with pg_logical_emit_message in a transaction of its own, exactly as @factlib/emit does in
your application. With "-", reads one fact per line from standard input, as JSON objects with the fields
of a fact (aggregateType, aggregateId, type, data or payload, and optionally source, id, time,
contentType, metadata, traceparent, tracestate); the flags give the defaults. All lines are checked
first and then emitted in one transaction: all of them, or none.

Flags:
  --database-url <url>     the database (or DATABASE_URL)
  --source <name>          the emitting service, [a-zA-Z0-9._-]{1,100}; the topic's first part
  --aggregate-type <name>  [a-zA-Z0-9._-]{1,100}; the topic's second part
  --aggregate-id <id>      the Kafka key
  --type <type>            what happened, e.g. order.placed
  --data <json>            the fact's JSON value
  --payload <text>         or a payload sent as is (with --content-type)
  --content-type <type>    media type of --payload [application/octet-stream]
  --metadata <key=value>   an extra Kafka header; repeat for more
  --id <uuid>              the fact id [a new UUIDv7]
  --time <rfc3339>         the fact time [now]
  --json                   print each emitted fact as a JSON line (default: one short line each)

Examples:
  factlib emit --source shop --aggregate-type order --aggregate-id 42 --type order.placed --data '{"total":9}'
  factlib emit --source shop --aggregate-type order --aggregate-id 42 --type order.note --payload 'hello' --content-type text/plain
  printf '%s\\n' '{"aggregateId":"1","type":"order.placed","data":{}}' '{"aggregateId":"2","type":"order.placed","data":{}}' \\
    | factlib emit --source shop --aggregate-type order --json -`,

  async run(argv) {
    const { values, positionals } = parseFlags(
      'emit',
      argv,
      {
        'database-url': { type: 'string' },
        source: { type: 'string' },
        'aggregate-type': { type: 'string' },
        'aggregate-id': { type: 'string' },
        type: { type: 'string' },
        data: { type: 'string' },
        payload: { type: 'string' },
        'content-type': { type: 'string' },
        metadata: { type: 'string', multiple: true },
        id: { type: 'string' },
        time: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const flag = (name: string) => values[name] as string | undefined
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== '-'))
      throw new UsageError(
        `unexpected argument "${positionals.join(' ')}"; only "-" (read standard input) is allowed`,
      )
    const fromStdin = positionals[0] === '-'
    const databaseUrl = flag('database-url') ?? process.env.DATABASE_URL?.trim()
    if (!databaseUrl)
      throw new UsageError('--database-url is required (or set DATABASE_URL), e.g. postgres://localhost/app')
    if (flag('data') !== undefined && flag('payload') !== undefined)
      throw new UsageError('give --data or --payload, not both')

    const defaults: Record<string, unknown> = {
      ...(flag('source') === undefined ? {} : { source: flag('source') }),
      ...(flag('aggregate-type') === undefined ? {} : { aggregateType: flag('aggregate-type') }),
      ...(flag('aggregate-id') === undefined ? {} : { aggregateId: flag('aggregate-id') }),
      ...(flag('type') === undefined ? {} : { type: flag('type') }),
      ...(flag('content-type') === undefined ? {} : { contentType: flag('content-type') }),
      ...(flag('id') === undefined ? {} : { id: flag('id') }),
      ...(flag('time') === undefined ? {} : { time: flag('time') }),
      ...(values.metadata === undefined ? {} : { metadata: metadataFlag(values.metadata as string[]) }),
      ...(flag('data') === undefined ? {} : { data: jsonFlag(flag('data') as string) }),
      ...(flag('payload') === undefined ? {} : { payload: flag('payload') }),
    }

    const inputs: Array<{ fact: Record<string, unknown>; where: string }> = fromStdin
      ? await readLines(defaults)
      : [{ fact: defaults, where: '' }]
    if (!fromStdin) {
      for (const required of ['source', 'aggregate-type', 'aggregate-id', 'type'])
        if (flag(required) === undefined)
          throw new UsageError(`--${required} is required (see factlib emit --help)`)
      if (flag('data') === undefined && flag('payload') === undefined)
        throw new UsageError('--data <json> or --payload <text> is required (see factlib emit --help)')
    }
    if (inputs.length === 0) throw new UsageError('standard input had no facts (one JSON object per line)')

    const prepared = prepareAll(inputs)
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'factlib-emit' })
    await client.connect().catch((error: unknown) => {
      throw explainConnectError(error, databaseUrl)
    })
    try {
      await client.query('begin')
      for (const statement of prepared) await client.query(statement.text, statement.params)
      await client.query('commit')
    } catch (error) {
      await client.query('rollback').catch(() => {})
      const { code, detail, hint } = error as { code?: string; detail?: string; hint?: string }
      throw new FactlibError(
        'EMIT_FAILED',
        `emitting into ${redactUrl(databaseUrl)} failed: ${(error as Error).message}` +
          (code ? ` (SQLSTATE ${code})` : '') +
          (detail ? ` ${detail}` : '') +
          (hint ? ` Hint: ${hint}` : ''),
        { cause: error },
      )
    } finally {
      await client.end().catch(() => {})
    }
    for (const fact of prepared.flatMap((statement) => statement.facts))
      process.stdout.write(
        values.json
          ? `${JSON.stringify(printable(fact))}\n`
          : `emitted ${fact.id} ${fact.source}.${fact.aggregateType} ${fact.aggregateId} ${fact.type}\n`,
      )
    return 0
  },
}

/** Validate every fact before any SQL is sent; one statement per source and batch, in input order. */
function prepareAll(inputs: Array<{ fact: Record<string, unknown>; where: string }>): PreparedEmit[] {
  const statements: PreparedEmit[] = []
  let run: { source: string; facts: FactInput[]; wheres: string[] } | undefined
  const flush = () => {
    if (!run) return
    const { source, facts, wheres } = run
    run = undefined
    try {
      statements.push(createEmitter({ source }).prepare(facts))
    } catch (error) {
      const index = (error as { index?: number }).index
      const where = index === undefined ? (wheres[0] ?? '') : (wheres[index] ?? '')
      if (error instanceof FactlibError)
        throw new FactlibError(error.code, `${where}${error.message.replace(/facts\[\d+\]/, 'fact')}`)
      throw error
    }
  }
  for (const { fact, where } of inputs) {
    const { source, ...rest } = fact
    if (typeof source !== 'string')
      throw new UsageError(`${where}the fact has no source: give --source, or "source" in the line`)
    if (run && (run.source !== source || run.facts.length >= BATCH)) flush()
    run ??= { source, facts: [], wheres: [] }
    run.facts.push(rest as unknown as FactInput)
    run.wheres.push(where)
  }
  flush()
  return statements
}

async function readLines(defaults: Record<string, unknown>) {
  const lines: Array<{ fact: Record<string, unknown>; where: string }> = []
  let number = 0
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    number += 1
    if (!line.trim()) continue
    const where = `stdin line ${number}: `
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      throw new UsageError(`${where}invalid JSON (${(error as Error).message})`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`${where}expected a JSON object with the fields of a fact`)
    const fact = { ...defaults, ...(parsed as Record<string, unknown>) }
    // A line's own data or payload replaces the flag's, never both.
    if ('data' in (parsed as object) && !('payload' in (parsed as object))) delete fact.payload
    if ('payload' in (parsed as object) && !('data' in (parsed as object))) delete fact.data
    lines.push({ fact, where })
  }
  return lines
}

function jsonFlag(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(
      `--data is not valid JSON (${(error as Error).message}); quote it for the shell, e.g. --data '{"total":9}'`,
    )
  }
}

function metadataFlag(entries: string[]): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const entry of entries) {
    const at = entry.indexOf('=')
    if (at < 1) throw new UsageError(`--metadata ${JSON.stringify(entry)}: expected key=value`)
    metadata[entry.slice(0, at)] = entry.slice(at + 1)
  }
  return metadata
}

/** A fact as JSON: a byte payload as base64. */
function printable(fact: Fact): Record<string, unknown> {
  return fact.payload instanceof Uint8Array
    ? { ...fact, payload: undefined, payloadBase64: Buffer.from(fact.payload).toString('base64') }
    : { ...fact }
}
