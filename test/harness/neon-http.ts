import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import pg from 'pg'

/** A running local SQL-over-HTTP endpoint; give {@link NeonHttpEndpoint.url} to `neonConfig.fetchEndpoint`. */
export interface NeonHttpEndpoint {
  readonly url: string
  close(): Promise<void>
}

interface QueryData {
  query: string
  params: Array<string | null>
  arrayMode: boolean | undefined
}

interface Options {
  rawOutput: boolean
  arrayMode: boolean
  isolationLevel: string | undefined
  readOnly: boolean
  deferrable: boolean
}

/** One pool per connection identity, and what it learnt about the database's array types. */
interface Target {
  pool: pg.Pool
  arrayElements: Map<number, number>
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const MAX_BYTES = 10 * 1024 * 1024
const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
}
// What the proxy runs before a pooled connection serves another request.
const RESET_SESSION =
  'ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; UNLISTEN *; ' +
  'SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES'
// Values leave PostgreSQL as its text output, untouched: the proxy returns them that way.
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig
const CORS_HEADERS =
  'Authorization, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, ' +
  'Neon-Batch-Read-Only, Neon-Batch-Isolation-Level'

/**
 * Neon's SQL-over-HTTP endpoint (`POST /sql`, as in neondatabase/neon `proxy/src/serverless/sql_over_http.rs`)
 * over the PostgreSQL at `databaseUrl`. User, password and database come from each request's
 * `Neon-Connection-String`; its host is ignored, every request goes to `databaseUrl`'s host and port.
 */
export async function startNeonHttpEndpoint(databaseUrl: string): Promise<NeonHttpEndpoint> {
  const targets = new Map<string, Target>()
  const targetFor = (request: IncomingMessage): Target => {
    const connection = connectionString(request, databaseUrl)
    let target = targets.get(connection)
    if (!target) {
      const pool = new pg.Pool({
        connectionString: connection,
        types: RAW_TEXT,
        max: 10,
        idleTimeoutMillis: 5_000,
        allowExitOnIdle: true,
      })
      // Idle connections die when a test drops its database; the pool replaces them.
      pool.on('error', () => {})
      target = { pool, arrayElements: new Map() }
      targets.set(connection, target)
    }
    return target
  }

  const http = createServer((request, response) => {
    handle(request, targetFor).then(
      ({ status = 200, body, headers }) => reply(response, status, body, headers),
      (error: unknown) => reply(response, ...errorResponse(error)),
    )
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(0, '127.0.0.1', resolve)
  })
  const address = http.address()
  if (address === null || typeof address === 'string') throw new Error('the HTTP endpoint has no port')
  return {
    url: `http://127.0.0.1:${address.port}/sql`,
    close: async () => {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()))
      http.closeAllConnections()
      await closed
      await Promise.all([...targets.values()].map(({ pool }) => pool.end()))
      targets.clear()
    },
  }
}

async function handle(
  request: IncomingMessage,
  targetFor: (request: IncomingMessage) => Target,
): Promise<{ status?: number; body: string; headers: Record<string, string> }> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname
  if (path === '/sql' && request.method === 'OPTIONS') {
    const headers = { Allow: 'OPTIONS, POST', 'Access-Control-Allow-Headers': CORS_HEADERS }
    return { body: '', headers: { ...headers, 'Access-Control-Max-Age': '86400' } }
  }
  if (path !== '/sql' || request.method !== 'POST') {
    return { status: 400, body: '"query is not supported"', headers: {} }
  }
  const target = targetFor(request)
  const options = parseOptions(request)
  const payload = parsePayload(await readBody(request))
  const client = await target.pool.connect()
  if (!Array.isArray(payload)) {
    const body = await runQuery(client, target, payload, options).catch((error: unknown) => {
      client.release(true)
      throw error
    })
    await releaseClean(client)
    return { body, headers: {} }
  }
  return { body: await runBatch(client, target, payload, options), headers: batchHeaders(options) }
}

async function runBatch(client: pg.PoolClient, target: Target, queries: QueryData[], options: Options) {
  const modes = [
    options.isolationLevel && ` ISOLATION LEVEL ${ISOLATION_LEVELS[options.isolationLevel]}`,
    options.readOnly && ' READ ONLY',
    options.deferrable && ' DEFERRABLE',
  ].filter(Boolean)
  await client.query(`START TRANSACTION${modes.join(',')}`).catch((error: unknown) => {
    client.release(true)
    throw error
  })
  const results: string[] = []
  try {
    for (const query of queries) results.push(await runQuery(client, target, query, options))
  } catch (error) {
    await releaseClean(client)
    throw error
  }
  await client.query('COMMIT').catch((error: unknown) => {
    client.release(true)
    throw error
  })
  await releaseClean(client)
  return `{"results":[${results.join(',')}]}`
}

async function runQuery(client: pg.PoolClient, target: Target, data: QueryData, options: Options) {
  // Extended protocol with untyped text parameters, as the proxy sends them; it also refuses several
  // statements in one query, as the proxy does.
  const config: pg.QueryArrayConfig & { queryMode: 'extended' } = {
    text: data.query,
    values: data.params,
    rowMode: 'array',
    queryMode: 'extended',
  }
  const result = await client.query<Array<string | null>>(config)
  const arrayMode = data.arrayMode ?? options.arrayMode
  const oids = result.fields.map((field) => field.dataTypeID)
  if (!options.rawOutput) await learnArrayTypes(client, target.arrayElements, oids)
  const value = (text: string | null, column: number) =>
    text === null
      ? 'null'
      : options.rawOutput
        ? JSON.stringify(text)
        : typedJson(text, oids[column]!, target.arrayElements)
  const rows = result.rows.map((row) =>
    arrayMode
      ? `[${row.map(value).join(',')}]`
      : `{${row.map((text, column) => `${JSON.stringify(result.fields[column]!.name)}:${value(text, column)}`).join(',')}}`,
  )
  const fields = result.fields.map(
    ({ name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier }) => ({
      name,
      dataTypeID,
      tableID,
      columnID,
      dataTypeSize,
      dataTypeModifier,
      format: 'text',
    }),
  )
  const json =
    `{"fields":${JSON.stringify(fields)},"rows":[${rows.join(',')}],"command":${JSON.stringify(result.command ?? '')},` +
    `"rowCount":${JSON.stringify(result.rowCount ?? null)},"rowAsArray":${arrayMode}}`
  if (Buffer.byteLength(json) > MAX_BYTES)
    throw new HttpError(507, `response is too large (max is ${MAX_BYTES} bytes)`)
  return json
}

/** Return a connection to its pool as the proxy does: session state reset, or thrown away if that fails. */
async function releaseClean(client: pg.PoolClient): Promise<void> {
  await client.query(RESET_SESSION).then(
    () => client.release(),
    () => client.release(true),
  )
}

/** The connection the request asks for, made against the local server: its user, password and database. */
function connectionString(request: IncomingMessage, databaseUrl: string): string {
  const header = request.headers['neon-connection-string']
  if (typeof header !== 'string') throw new HttpError(400, 'invalid header: neon-connection-string')
  let url: URL
  try {
    url = new URL(header)
  } catch (error) {
    throw new HttpError(400, `invalid connection string: ${(error as Error).message}`)
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new HttpError(400, 'incorrect scheme')
  }
  const database = url.pathname.slice(1).split('/')[0]
  if (!database) throw new HttpError(400, 'missing database name')
  if (!url.username) throw new HttpError(400, 'missing username')
  // The proxy takes a bearer token only when the endpoint accepts JWTs; this one never does.
  if (request.headers.authorization !== undefined || !url.password) {
    throw new HttpError(400, 'missing authentication credentials: required password')
  }
  // Keep the local URL's own settings (such as sslmode) and take the rest, still percent-encoded, from the request.
  const local = new URL(databaseUrl)
  local.username = url.username
  local.password = url.password
  local.pathname = `/${database}`
  for (const name of ['application_name', 'options']) {
    const value = url.searchParams.get(name)
    if (value !== null) local.searchParams.set(name, value)
  }
  return local.toString()
}

function parseOptions(request: IncomingMessage): Options {
  const isTrue = (name: string) => request.headers[name] === 'true'
  const isolationLevel = request.headers['neon-batch-isolation-level']
  if (
    isolationLevel !== undefined &&
    !(typeof isolationLevel === 'string' && Object.hasOwn(ISOLATION_LEVELS, isolationLevel))
  ) {
    throw new HttpError(400, 'invalid isolation level')
  }
  return {
    rawOutput: isTrue('neon-raw-text-output'),
    arrayMode: isTrue('neon-array-mode'),
    isolationLevel,
    readOnly: isTrue('neon-batch-read-only'),
    deferrable: isTrue('neon-batch-deferrable'),
  }
}

function batchHeaders(options: Options): Record<string, string> {
  const headers: Record<string, string> = {}
  if (options.readOnly) headers['Neon-Batch-Read-Only'] = 'true'
  if (options.deferrable) headers['Neon-Batch-Deferrable'] = 'true'
  if (options.isolationLevel) headers['Neon-Batch-Isolation-Level'] = options.isolationLevel
  return headers
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > MAX_BYTES) throw new HttpError(413, `request is too large (max is ${MAX_BYTES} bytes)`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parsePayload(body: string): QueryData | QueryData[] {
  const invalid = (why: string) => new HttpError(400, `could not parse the HTTP request body: ${why}`)
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (error) {
    throw invalid((error as Error).message)
  }
  const query = (value: unknown): QueryData => {
    const { query, params = [], arrayMode } = (value ?? {}) as Record<string, unknown>
    if (typeof query !== 'string') throw invalid('missing field `query`')
    if (!Array.isArray(params)) throw invalid('`params` is not an array')
    if (arrayMode !== undefined && arrayMode !== null && typeof arrayMode !== 'boolean') {
      throw invalid('`arrayMode` is not a boolean')
    }
    return { query, params: params.map(paramText), arrayMode: arrayMode ?? undefined }
  }
  const { queries } = (json ?? {}) as Record<string, unknown>
  if (json !== null && typeof json === 'object' && 'query' in json) return query(json)
  if (Array.isArray(queries)) return queries.map(query)
  throw invalid('data did not match any variant of untagged enum Payload')
}

/** A JSON parameter as the text PostgreSQL receives; arrays become array literals. */
function paramText(value: unknown): string | null {
  if (value === null) return null
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return arrayLiteral(value)
  return JSON.stringify(value)
}

function arrayLiteral(value: unknown): string {
  if (value === null) return 'NULL'
  if (Array.isArray(value)) return `{${value.map(arrayLiteral).join(',')}}`
  // Inside an array literal a string is double-quoted with backslash escapes, which JSON's quoting satisfies.
  if (typeof value === 'object') return JSON.stringify(JSON.stringify(value))
  return JSON.stringify(value)
}

/** Without `Neon-Raw-Text-Output: true`, the proxy turns booleans, small numbers and JSON into JSON. */
function typedJson(text: string, oid: number, arrayElements: Map<number, number>): string {
  const element = arrayElements.get(oid)
  if (element) return arrayJson(parseArray(text), element, arrayElements)
  switch (oid) {
    case 16:
      return text === 't' ? 'true' : 'false'
    case 21:
    case 23:
      return String(Number.parseInt(text, 10))
    case 700:
    case 701:
      return Number.isFinite(Number(text)) ? JSON.stringify(Number(text)) : JSON.stringify(text)
    case 114:
    case 3802:
      return text
    default:
      return JSON.stringify(text)
  }
}

type PgArray = Array<string | null | PgArray>

function arrayJson(items: PgArray, element: number, arrayElements: Map<number, number>): string {
  const item = (value: string | null | PgArray): string =>
    value === null
      ? 'null'
      : Array.isArray(value)
        ? arrayJson(value, element, arrayElements)
        : typedJson(value, element, arrayElements)
  return `[${items.map(item).join(',')}]`
}

/** PostgreSQL's array text output (`{1,"a b",NULL,{2}}`, optionally with `[1:2]=` bounds) as nested arrays. */
function parseArray(text: string): PgArray {
  const source = text.startsWith('[') ? text.slice(text.indexOf('=') + 1) : text
  let at = 0
  const skipSpace = () => {
    while (/\s/.test(source[at] ?? '')) at++
  }
  const expect = (char: string) => {
    skipSpace()
    if (source[at] !== char) throw new HttpError(500, 'could not parse postgres response')
    at++
  }
  const readQuoted = () => {
    let value = ''
    for (at++; source[at] !== '"'; at++) {
      if (at >= source.length) throw new HttpError(500, 'could not parse postgres response')
      if (source[at] === '\\') at++
      value += source[at]
    }
    at++
    return value
  }
  const readItem = (): string | null | PgArray => {
    skipSpace()
    if (source[at] === '{') return readArray()
    if (source[at] === '"') return readQuoted()
    const end = source.slice(at).search(/[,}]/)
    if (end < 0) throw new HttpError(500, 'could not parse postgres response')
    const item = source.slice(at, at + end).trim()
    at += end
    return item === 'NULL' ? null : item
  }
  const readArray = (): PgArray => {
    expect('{')
    const items: PgArray = []
    skipSpace()
    while (source[at] !== '}') {
      items.push(readItem())
      skipSpace()
      if (source[at] === ',') at++
      else break
    }
    expect('}')
    return items
  }
  return readArray()
}

/** Which of `oids` are array types, and of what: looked up once per database. */
async function learnArrayTypes(client: pg.PoolClient, arrayElements: Map<number, number>, oids: number[]) {
  const unknown = [...new Set(oids)].filter((oid) => !arrayElements.has(oid))
  if (unknown.length === 0) return
  const { rows } = await client.query<[string, string]>({
    text: "select oid, case when typcategory = 'A' then typelem else 0 end from pg_type where oid = any($1::oid[])",
    values: [`{${unknown.join(',')}}`],
    rowMode: 'array',
  })
  for (const oid of unknown) arrayElements.set(oid, 0)
  for (const [oid, element] of rows) arrayElements.set(Number(oid), Number(element))
}

function errorResponse(error: unknown): [number, string, Record<string, string>] {
  const db = error instanceof pg.DatabaseError ? error : undefined
  const status = error instanceof HttpError ? error.status : db ? 400 : 500
  const message = error instanceof Error ? error.message : String(error)
  const body = {
    message,
    code: db?.code ?? '',
    detail: db?.detail ?? null,
    hint: db?.hint ?? null,
    position: db?.position ?? null,
    internalPosition: db?.internalPosition ?? null,
    internalQuery: db?.internalQuery ?? null,
    severity: db?.severity ?? '',
    where: db?.where ?? null,
    table: db?.table ?? null,
    column: db?.column ?? null,
    schema: db?.schema ?? null,
    dataType: db?.dataType ?? null,
    constraint: db?.constraint ?? null,
    file: db?.file ?? null,
    line: db?.line ?? null,
    routine: db?.routine ?? null,
  }
  return [status, JSON.stringify(body), {}]
}

function reply(response: ServerResponse, status: number, body: string, headers: Record<string, string>) {
  response.writeHead(status, {
    ...(body ? { 'Content-Type': 'application/json' } : {}),
    'Access-Control-Allow-Origin': '*',
    ...headers,
  })
  response.end(body)
}
