import { type Fact, FactlibError } from '@factlib/emit'
import { redactUrl } from '../../config/config.js'
import { errorFields, errorMessage } from '../../util/error-fields.js'
import { type Command, parseFlags, UsageError } from '../command.js'
import { commandFlags, stringFlags } from '../config-flags.js'
import { connectDatabase } from '../connect.js'
import { type FactLine, failureJson, prepareAll, readLines } from './emit-facts.js'

const FLAGS = commandFlags(
  ['DATABASE_URL'],
  {
    source: {
      type: 'string',
      value: '<name>',
      help: "the emitting service, [a-zA-Z0-9._-]{1,100}; the topic's first part",
    },
    'aggregate-type': {
      type: 'string',
      value: '<name>',
      help: "[a-zA-Z0-9._-]{1,100}; the topic's second part",
    },
    'aggregate-id': { type: 'string', value: '<id>', help: 'the Kafka key' },
    type: { type: 'string', value: '<type>', help: 'what happened, e.g. order.placed' },
    data: { type: 'string', value: '<json>', help: "the fact's JSON value" },
    payload: { type: 'string', value: '<text>', help: 'or a payload sent as is (with --content-type)' },
    'content-type': {
      type: 'string',
      value: '<type>',
      help: 'media type of --payload [application/octet-stream]',
    },
    metadata: {
      type: 'string',
      multiple: true,
      value: '<key=value>',
      help: 'an extra Kafka header; repeat for more',
    },
    id: { type: 'string', value: '<uuid>', help: 'the fact id [a new UUIDv7]' },
    time: { type: 'string', value: '<rfc3339>', help: 'the fact time [now]' },
    json: {
      type: 'boolean',
      help: 'print each emitted fact as a JSON line (default: one short line each); a failure as {"error"}',
    },
  },
  { DATABASE_URL: 'the database' },
)

export const emitCommand: Command = {
  name: 'emit',
  help: `Usage: factlib emit [flags]
       factlib emit [flags] -        # JSON lines from standard input

Emits one fact with pg_logical_emit_message in a transaction of its own, exactly as @factlib/emit does in
your application. With "-", reads one fact per line from standard input, as JSON objects with the fields
of a fact (aggregateType, aggregateId, type, data or payload, and optionally source, id, time,
contentType, metadata, traceparent, tracestate); the flags give the defaults. All lines are checked
first and then emitted in one transaction: all of them, or none. With --json, a failure is also printed
on standard output as {"error": {"code", "message", and for an invalid fact "field", "rule", "line"}}.

Flags:
${FLAGS.help}

Examples:
  factlib emit --source shop --aggregate-type order --aggregate-id 42 --type order.placed --data '{"total":9}'
  factlib emit --source shop --aggregate-type order --aggregate-id 42 --type order.note --payload 'hello' --content-type text/plain
  printf '%s\\n' '{"aggregateId":"1","type":"order.placed","data":{}}' '{"aggregateId":"2","type":"order.placed","data":{}}' \\
    | factlib emit --source shop --aggregate-type order --json -`,

  async run(argv) {
    const { values, positionals } = parseFlags('emit', argv, FLAGS.options, true)
    const json = values.json === true
    try {
      const metadata = Array.isArray(values.metadata) ? values.metadata.map(String) : undefined
      return await emit(stringFlags(values), metadata, positionals, json)
    } catch (error) {
      if (json && error instanceof FactlibError)
        process.stdout.write(`${JSON.stringify(failureJson(error))}\n`)
      throw error
    }
  },
}

async function emit(
  flags: Record<string, string | undefined>,
  metadata: string[] | undefined,
  positionals: string[],
  json: boolean,
): Promise<number> {
  if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== '-'))
    throw new UsageError(
      `unexpected argument "${positionals.join(' ')}"; only "-" (read standard input) is allowed`,
    )
  const fromStdin = positionals[0] === '-'
  const databaseUrl = flags['database-url'] ?? process.env.DATABASE_URL?.trim()
  if (!databaseUrl)
    throw new UsageError('--database-url is required (or set DATABASE_URL), e.g. postgres://localhost/app')
  if (flags.data !== undefined && flags.payload !== undefined)
    throw new UsageError('give --data or --payload, not both')

  const given = (flag: string, field = flag) => (flags[flag] === undefined ? {} : { [field]: flags[flag] })
  const defaults: Record<string, unknown> = {
    ...given('source'),
    ...given('aggregate-type', 'aggregateType'),
    ...given('aggregate-id', 'aggregateId'),
    ...given('type'),
    ...given('content-type', 'contentType'),
    ...given('id'),
    ...given('time'),
    ...(metadata === undefined ? {} : { metadata: metadataFlag(metadata) }),
    ...(flags.data === undefined ? {} : { data: jsonFlag(flags.data) }),
    ...given('payload'),
  }

  const inputs: FactLine[] = fromStdin ? await readLines(defaults) : [{ fact: defaults, line: undefined }]
  if (!fromStdin) {
    for (const required of ['source', 'aggregate-type', 'aggregate-id', 'type'])
      if (flags[required] === undefined)
        throw new UsageError(`--${required} is required (see factlib emit --help)`)
    if (flags.data === undefined && flags.payload === undefined)
      throw new UsageError('--data <json> or --payload <text> is required (see factlib emit --help)')
  }
  if (inputs.length === 0) throw new UsageError('standard input had no facts (one JSON object per line)')

  const prepared = prepareAll(inputs)
  const client = await connectDatabase(databaseUrl, 'emit')
  try {
    await client.query('begin')
    for (const statement of prepared) await client.query(statement.text, statement.params)
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => {})
    const { code, detail, hint } = errorFields(error) ?? {}
    throw new FactlibError(
      'EMIT_FAILED',
      `emitting into ${redactUrl(databaseUrl)} failed: ${errorMessage(error)}` +
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
      json
        ? `${JSON.stringify(printable(fact))}\n`
        : `emitted ${fact.id} ${fact.source}.${fact.aggregateType} ${fact.aggregateId} ${fact.type}\n`,
    )
  return 0
}

function jsonFlag(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(
      `--data is not valid JSON (${errorMessage(error)}); quote it for the shell, e.g. --data '{"total":9}'`,
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
