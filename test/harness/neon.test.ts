import { Client, NeonDbError, neon, neonConfig, Pool } from '@neondatabase/serverless'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import {
  freePort,
  freshDatabase,
  neonLocal,
  routeNeonToHarness,
  uniqueName,
  waitFor,
  withClient,
} from './index.js'
import { startNeonWsBridge } from './neon-ws-bridge.js'
import { createWalReader, type WalReader } from './wal.js'

// The driver's configuration is global: this file routes it to the run's PostgreSQL through the bridges.
routeNeonToHarness(neonConfig)
const local = neonLocal()

const db = await freshDatabase('neon')
let wal: WalReader
beforeAll(async () => {
  wal = await createWalReader(db.url)
})
afterAll(() => wal.drop())

async function createTable(): Promise<string> {
  const table = uniqueName('neon')
  await withClient(db.url, (client) => client.query(`create table ${table} (id int primary key, note text)`))
  return table
}

const rowsOf = (table: string) =>
  withClient(db.url, async (client) => (await client.query(`select id, note from ${table} order by id`)).rows)

const messagesAbout = async (table: string) =>
  (await wal.messages())
    .filter((message) => message.content.toString() === table)
    .map(({ prefix, transactional, commitEndLsn }) => ({ prefix, transactional, committed: !!commitEndLsn }))

/** A session over the WebSocket bridge, from a `Client` or checked out of a `Pool`. */
async function session(kind: 'Client' | 'Pool') {
  if (kind === 'Client') {
    const client = new Client(db.url)
    await client.connect()
    return { query: client.query.bind(client), close: () => client.end() }
  }
  const pool = new Pool({ connectionString: db.url })
  const client = await pool.connect()
  return {
    query: client.query.bind(client),
    close: async () => {
      client.release()
      await pool.end()
    },
  }
}

describe.each(['Client', 'Pool'] as const)('WebSocket mode, %s', (kind) => {
  test('a transaction commits a row and a pg_logical_emit_message together', async () => {
    const table = await createTable()
    const neonSession = await session(kind)
    try {
      await neonSession.query('begin')
      await neonSession.query(`insert into ${table} (id, note) values ($1, $2)`, [1, kind])
      await neonSession.query(`select pg_logical_emit_message(true, 'neon-test', $1::text)`, [table])
      await neonSession.query('commit')
    } finally {
      await neonSession.close()
    }
    expect(await rowsOf(table)).toEqual([{ id: 1, note: kind }])
    expect(await messagesAbout(table)).toEqual([
      { prefix: 'neon-test', transactional: true, committed: true },
    ])
  })

  test('a rolled-back transaction leaves neither the row nor the message', async () => {
    const table = await createTable()
    const neonSession = await session(kind)
    try {
      await neonSession.query('begin')
      await neonSession.query(`insert into ${table} (id, note) values ($1, $2)`, [1, kind])
      await neonSession.query(`select pg_logical_emit_message(true, 'neon-test', $1::text)`, [table])
      await neonSession.query('rollback')
      const { rows } = await neonSession.query(`select count(*)::int as n from ${table}`)
      expect(rows).toEqual([{ n: 0 }])
    } finally {
      await neonSession.close()
    }
    expect(await rowsOf(table)).toEqual([])
    expect(await messagesAbout(table)).toEqual([])
  })
})

describe('WebSocket bridge', () => {
  const backendAlive = (pid: number) =>
    withClient(db.url, async (client) => {
      const { rows } = await client.query('select 1 from pg_stat_activity where pid = $1', [pid])
      return rows.length > 0
    })

  /** A driver `Client` whose session has started, its backend's pid, and the first error it ended with. */
  async function connected(configure: (client: Client) => void = () => {}) {
    const client = new Client(db.url)
    configure(client)
    const ended = new Promise<Error | undefined>((resolve) => {
      let failure: Error | undefined
      client.on('error', (error) => {
        failure ??= error
      })
      client.once('end', () => resolve(failure))
    })
    await client.connect()
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')
    return { client, pid: rows[0]!.pid, ended }
  }

  test('a backend the server terminates ends the driver connection with its error', async () => {
    const { pid, ended } = await connected()
    await withClient(db.url, (client) => client.query('select pg_terminate_backend($1)', [pid]))
    expect(await ended).toMatchObject({ code: '57P01' })
  })

  test('a driver connection that ends ends its backend', async () => {
    const { client, pid } = await connected()
    await client.end()
    await waitFor(`backend ${pid} to exit`, async () => !(await backendAlive(pid)))
  })

  test('closing the bridge ends the sessions through it', async () => {
    const target = new URL(db.url)
    const bridge = await startNeonWsBridge({ host: target.hostname, port: Number(target.port) })
    const { pid, ended } = await connected((client) => {
      client.neonConfig.wsProxy = bridge.wsProxy
    })
    expect(await backendAlive(pid)).toBe(true)
    await bridge.close()
    await ended
    await waitFor(`backend ${pid} to exit`, async () => !(await backendAlive(pid)))
  })

  test('a PostgreSQL that cannot be reached closes the WebSocket with the reason', async () => {
    const closedPort = await freePort()
    const bridge = await startNeonWsBridge({ host: '127.0.0.1', port: closedPort })
    try {
      const socket = new WebSocket(`ws://${bridge.wsProxy}?address=127.0.0.1:${closedPort}`)
      const [code, reason] = await new Promise<[number, string]>((resolve) =>
        socket.once('close', (code, reason) => resolve([code, reason.toString()])),
      )
      expect(code).toBe(1011)
      expect(reason).toContain('ECONNREFUSED')
    } finally {
      await bridge.close()
    }
  })
})

describe('HTTP mode', () => {
  const sql = () => neon(db.url)

  test('a parameterised query returns the same typed values as over a WebSocket', async () => {
    const at = new Date('2024-05-06T07:08:09.123Z')
    const bytes = Buffer.from([0, 1, 127, 255])
    const query = `select $1::int as int, $2::text as text, $3::jsonb as json, $4::bool as bool,
      $5::timestamptz as at, $6::bytea as bytes, $7::int8 as big, $8::text as nothing`
    const params = [42, 'héllo, "world"', { a: [1, 'b'], c: null }, true, at, bytes, '9007199254740993', null]
    const viaHttp = await sql().query(query, params)
    expect(viaHttp).toEqual([
      {
        int: 42,
        text: 'héllo, "world"',
        json: { a: [1, 'b'], c: null },
        bool: true,
        at,
        bytes,
        big: '9007199254740993',
        nothing: null,
      },
    ])
    const client = new Client(db.url)
    await client.connect()
    try {
      expect(viaHttp).toEqual((await client.query(query, params)).rows)
    } finally {
      await client.end()
    }
  })

  test('full results carry fields, command and row count as Neon returns them', async () => {
    const table = await createTable()
    const result = await sql().query(
      `insert into ${table} (id, note) values (1, 'a'), (2, null) returning id, note`,
      [],
      { fullResults: true },
    )
    const tableId = await withClient(db.url, async (client) => {
      const { rows } = await client.query<{ oid: number }>('select $1::regclass::oid as oid', [table])
      return Number(rows[0]?.oid)
    })
    expect(result).toMatchObject({
      command: 'INSERT',
      rowCount: 2,
      rowAsArray: false,
      rows: [
        { id: 1, note: 'a' },
        { id: 2, note: null },
      ],
    })
    expect(result.fields).toEqual([
      {
        name: 'id',
        dataTypeID: 23,
        tableID: tableId,
        columnID: 1,
        dataTypeSize: 4,
        dataTypeModifier: -1,
        format: 'text',
      },
      {
        name: 'note',
        dataTypeID: 25,
        tableID: tableId,
        columnID: 2,
        dataTypeSize: -1,
        dataTypeModifier: -1,
        format: 'text',
      },
    ])
  })

  test('a failing query rejects with the PostgreSQL error fields', async () => {
    const error = await sql()`select 1 / ${0}::int`.catch((error: unknown) => error)
    expect(error).toBeInstanceOf(NeonDbError)
    expect(error).toMatchObject({ code: '22012', severity: 'ERROR', message: 'division by zero' })
  })

  test('sql.transaction commits its queries atomically', async () => {
    const table = await createTable()
    const tx = sql()
    const results = await tx.transaction([
      tx.query(`insert into ${table} (id, note) values ($1, $2)`, [1, 'one']),
      tx.query(`insert into ${table} (id, note) values ($1, $2)`, [2, 'two']),
      tx.query(`select pg_logical_emit_message(true, 'neon-test', $1::text)`, [table]),
      tx.query(`select count(*)::int as n from ${table}`),
    ])
    expect(results[3]).toEqual([{ n: 2 }])
    expect(await rowsOf(table)).toEqual([
      { id: 1, note: 'one' },
      { id: 2, note: 'two' },
    ])
    expect(await messagesAbout(table)).toEqual([
      { prefix: 'neon-test', transactional: true, committed: true },
    ])
  })

  test.each([
    ['a unique violation', (table: string) => `insert into ${table} (id, note) values (1, 'again')`, '23505'],
    ['a division by zero', () => 'select 1 / 0', '22012'],
  ])('sql.transaction rolls back as a whole on %s', async (_, failing, code) => {
    const table = await createTable()
    await withClient(db.url, (client) => client.query(`insert into ${table} (id, note) values (1, 'before')`))
    const tx = sql()
    const error = await tx
      .transaction([
        tx.query(`insert into ${table} (id, note) values ($1, $2)`, [2, 'inside']),
        tx.query(`select pg_logical_emit_message(true, 'neon-test', $1::text)`, [table]),
        tx.query(failing(table)),
      ])
      .catch((error: unknown) => error)
    expect(error).toBeInstanceOf(NeonDbError)
    expect((error as NeonDbError).code).toBe(code)
    expect(await rowsOf(table)).toEqual([{ id: 1, note: 'before' }])
    expect(await messagesAbout(table)).toEqual([])
  })

  test('sql.transaction applies isolation level, read-only and deferrable', async () => {
    const tx = sql()
    const settings = `select current_setting('transaction_isolation') as isolation,
      current_setting('transaction_read_only') as read_only,
      current_setting('transaction_deferrable') as deferrable`
    const [[strict], [loose]] = await Promise.all([
      tx.transaction([tx.query(settings)], {
        isolationLevel: 'Serializable',
        readOnly: true,
        deferrable: true,
      }),
      tx.transaction([tx.query(settings)], { isolationLevel: 'RepeatableRead' }),
    ])
    expect(strict).toEqual([{ isolation: 'serializable', read_only: 'on', deferrable: 'on' }])
    expect(loose).toEqual([{ isolation: 'repeatable read', read_only: 'off', deferrable: 'off' }])

    const table = await createTable()
    const error = await tx
      .transaction([tx.query(`insert into ${table} (id) values (1)`)], { readOnly: true })
      .catch((error: unknown) => error)
    expect((error as NeonDbError).code).toBe('25006')
  })

  test('session settings do not leak from one request to the next', async () => {
    const query = sql()
    const [{ path }] = (await query`select current_setting('search_path') as path`) as [{ path: string }]
    await query`select set_config('search_path', 'leaked', false)`
    expect(await query`select current_setting('search_path') as path`).toEqual([{ path }])
  })
})

describe('HTTP endpoint protocol', () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(local.fetchEndpoint, {
      method: 'POST',
      headers: { 'Neon-Connection-String': db.url, ...headers },
      body: JSON.stringify(body),
    })

  test('without raw text output, values come back as JSON, objects or arrays by Neon-Array-Mode', async () => {
    const query = `select 1 as n, true as b, '{"k":[1]}'::jsonb as j, 'NaN'::float8 as f,
      array[1, null, 3] as a, array['x y', 'NULL'] as t, 9007199254740993::int8 as big`
    const objects = await post({ query })
    expect(objects.status).toBe(200)
    expect(((await objects.json()) as { rows: unknown }).rows).toEqual([
      {
        n: 1,
        b: true,
        j: { k: [1] },
        f: 'NaN',
        a: [1, null, 3],
        t: ['x y', 'NULL'],
        big: '9007199254740993',
      },
    ])
    const arrays = await post(
      { query: 'select $1::int as n, $2::text[] as t', params: [7, ['a"b', null]] },
      {
        'Neon-Array-Mode': 'true',
        'Neon-Raw-Text-Output': 'true',
      },
    )
    expect(await arrays.json()).toMatchObject({ rows: [['7', '{"a\\"b",NULL}']], rowAsArray: true })
  })

  test('a batch returns its results and echoes the transaction headers', async () => {
    const response = await post(
      { queries: [{ query: 'select 1 as one' }, { query: 'select 2 as two', arrayMode: true }] },
      { 'Neon-Batch-Isolation-Level': 'ReadCommitted', 'Neon-Batch-Read-Only': 'true' },
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('neon-batch-isolation-level')).toBe('ReadCommitted')
    expect(response.headers.get('neon-batch-read-only')).toBe('true')
    const { results } = (await response.json()) as { results: Array<{ rows: unknown }> }
    expect(results.map((result) => result.rows)).toEqual([[{ one: 1 }], [[2]]])
  })

  test.each([
    ['a wrong password', { 'Neon-Connection-String': withPassword(db.url, 'wrong') }, '28P01'],
    ['an unknown isolation level', { 'Neon-Batch-Isolation-Level': 'Snapshot' }, ''],
    ['several statements in one query', {}, '42601'],
  ])('refuses %s with HTTP 400 and the error code', async (what, headers, code) => {
    const query = what.startsWith('several') ? 'select 1; select 2' : 'select 1'
    const response = await post({ query }, headers)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code })
  })
})

function withPassword(url: string, password: string): string {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}
