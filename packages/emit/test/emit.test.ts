import pg from 'pg'
import { describe, expect, test } from 'vitest'
import { uniqueName, withClient } from '../../../test/harness/index.js'
import { createEmitter, type Fact, type FactInput, FactlibError, ValidationError } from '../src/index.js'
import { expectedContent, order, recordingTx, uniqueSource, walDatabase } from './helpers.js'

const { db, messages } = await walDatabase('emit')

/** Run `work` in a transaction on one node-postgres client, counting the statements it sends. */
async function inTransaction<T>(work: (tx: pg.Client) => Promise<T>, end: 'commit' | 'rollback' = 'commit') {
  return withClient(db.url, async (client) => {
    await client.query('begin')
    const result = await work(client)
    await client.query(end)
    return result
  })
}

const UUID_V7 = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/

describe('commit and rollback', () => {
  test('a committed fact appears once in the WAL, as envelope v1 exactly, in its transaction', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const table = uniqueName('orders')
    await withClient(db.url, (client) => client.query(`create table ${table} (id text primary key)`))
    const fact = await inTransaction(async (tx) => {
      await tx.query(`insert into ${table} (id) values ($1)`, ['42'])
      return facts.emit(tx, {
        aggregateType: 'order',
        aggregateId: '42',
        type: 'order.placed',
        data: { total: 9 },
      })
    })
    expect(fact).toMatchObject({
      source,
      aggregateType: 'order',
      aggregateId: '42',
      type: 'order.placed',
      contentType: 'application/json',
      data: { total: 9 },
    })
    expect(fact.id).toMatch(UUID_V7)
    expect(fact.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const wal = await messages(source)
    expect(wal).toHaveLength(1)
    expect(wal[0]).toMatchObject({ prefix: source, transactional: true })
    expect(wal[0]!.commitEndLsn).toBeDefined()
    expect(wal[0]!.content.equals(expectedContent(fact))).toBe(true)
    expect(wal[0]!.content.toString()).toBe(
      `{"v":1,"id":"${fact.id}","type":"order.placed","aggregateType":"order","aggregateId":"42",` +
        `"time":"${fact.time}","contentType":"application/json"}\n{"total":9}`,
    )
  })

  test('every header field, given id and time, and a text payload arrive exactly', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const input: FactInput = {
      id: '01890a5d-ac96-774b-bcce-b302099a8057',
      time: '2024-05-06T07:08:09.123Z',
      aggregateType: 'user.v2',
      aggregateId: 'ünïcødé 🙂 "quoted" \\ \n newline',
      type: 'user.renamed',
      payload: 'name=Zoë\n{"raw": true}',
      contentType: 'text/plain; charset=utf-8',
      metadata: { tenant: 'acme', 'x-request_id.1': 'r-1' },
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE',
    }
    const fact = await inTransaction((tx) => facts.emit(tx, input))
    expect(fact).toEqual({ ...input, source })
    const [message] = await messages(source)
    expect(message!.content.equals(expectedContent(fact))).toBe(true)
    const header = JSON.parse(message!.content.subarray(0, message!.content.indexOf(10)).toString())
    expect(Object.keys(header)).toEqual([
      'v',
      'id',
      'type',
      'aggregateType',
      'aggregateId',
      'time',
      'contentType',
      'metadata',
      'traceparent',
      'tracestate',
    ])
  })

  test('a rolled-back transaction emits nothing', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const emitted = await inTransaction((tx) => facts.emit(tx, [order('1'), order('2')]), 'rollback')
    expect(emitted).toHaveLength(2)
    // A later committed fact proves the slot has decoded past the rolled-back transaction.
    const marker = await inTransaction((tx) => facts.emit(tx, order('3')))
    expect(
      (await messages(source)).map((message) => JSON.parse(message.content.toString().split('\n')[0]!).id),
    ).toEqual([marker.id])
  })

  test('ROLLBACK TO SAVEPOINT drops exactly the facts emitted after the savepoint', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const kept = await inTransaction(async (tx) => {
      const before = await facts.emit(tx, order('before'))
      await tx.query('savepoint s1')
      await facts.emit(tx, order('inside-1'))
      await facts.emit(tx, [order('inside-2'), order('inside-3')])
      await tx.query('rollback to savepoint s1')
      const after = await facts.emit(tx, order('after'))
      return [before, after]
    })
    const wal = await messages(source)
    expect(wal.map((message) => message.content.toString())).toEqual(
      kept.map((fact) => expectedContent(fact).toString()),
    )
    expect(new Set(wal.map((message) => message.commitEndLsn)).size).toBe(1)
  })

  test('an empty array sends nothing and resolves to []', async () => {
    const tx = recordingTx()
    expect(await createEmitter({ source: 'orders' }).emit(tx, [])).toEqual([])
    expect(tx.queries).toEqual([])
  })
})

describe('batches', () => {
  test('1,000 facts are one statement, arrive once each, in array order, in one transaction', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const inputs = Array.from({ length: 1000 }, (_, i) => ({
      ...order(`order-${i % 37}`, i),
      // Text that needs escaping inside an array literal, and multi-byte characters.
      metadata: { note: `"quote" \\ back {brace}, comma ${i} é` },
    }))
    const statements: string[] = []
    const emitted = await inTransaction(async (client) => {
      const tx = {
        query: (text: string, params: string[]) => {
          statements.push(text)
          return client.query(text, params)
        },
      }
      return facts.emit(tx, inputs)
    })
    expect(statements).toHaveLength(1)
    expect(statements[0]).toContain('unnest($2::text[])')
    expect(emitted.map((fact) => fact.data)).toEqual(inputs.map((input) => input.data))
    const wal = await messages(source)
    expect(wal).toHaveLength(1000)
    wal.forEach((message, i) => {
      expect(message.content.equals(expectedContent(emitted[i]!))).toBe(true)
    })
    expect(new Set(wal.map((message) => message.commitEndLsn)).size).toBe(1)
    // The ids were made in array order and UUIDv7 sorts by time then counter: they sort as the array does.
    const ids = emitted.map((fact) => fact.id)
    expect(new Set(ids).size).toBe(1000)
    expect([...ids].sort()).toEqual(ids)
  })
})

describe('content encoding', () => {
  const cases: Array<[string, 'text' | 'bytea', Uint8Array | string]> = [
    ['invalid UTF-8', 'bytea', new Uint8Array([0xff, 0xfe, 0x80, 0x41, 0xc3])],
    ['a NUL byte in valid UTF-8', 'bytea', new Uint8Array([0x61, 0x00, 0x62])],
    ['a NUL character in a string', 'bytea', 'a\u0000b'],
    ['every byte value', 'bytea', Uint8Array.from({ length: 256 }, (_, i) => i)],
    ['a leading byte-order mark', 'text', new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])],
    ['valid UTF-8 bytes', 'text', new TextEncoder().encode('Grüße 🙂')],
    ['an empty payload', 'text', new Uint8Array(0)],
  ]

  test.each(cases)(
    'a payload with %s uses the %s overload and arrives byte-exact',
    async (_, type, payload) => {
      const source = uniqueSource()
      const facts = createEmitter({ source })
      const input = { aggregateType: 'blob', aggregateId: '1', type: 'blob.stored', payload }
      expect(facts.prepare(input).text).toContain(`$2::${type}[]`)
      const fact = await inTransaction((tx) => facts.emit(tx, input))
      const [message] = await messages(source)
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
      expect(message!.content.subarray(message!.content.indexOf(10) + 1).equals(bytes)).toBe(true)
      expect(message!.content.equals(expectedContent(fact))).toBe(true)
    },
  )

  test('a batch with one binary payload goes as bytea and every fact arrives byte-exact, in order', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const inputs: FactInput[] = [
      order('1'),
      { aggregateType: 'blob', aggregateId: '2', type: 'blob.stored', payload: new Uint8Array([0, 255, 10]) },
      { aggregateType: 'blob', aggregateId: '3', type: 'blob.stored', payload: 'é"\\{}' },
    ]
    expect(facts.prepare(inputs).text).toContain('$2::bytea[]')
    const emitted = await inTransaction((tx) => facts.emit(tx, inputs))
    const wal = await messages(source)
    expect(wal.map((message) => message.content.toString('hex'))).toEqual(
      emitted.map((fact) => expectedContent(fact).toString('hex')),
    )
  })
})

describe('size limit', () => {
  const sizedFact = (payloadBytes: number) => ({
    id: '01890a5d-ac96-774b-bcce-b302099a8057',
    time: '2024-05-06T07:08:09.123Z',
    aggregateType: 'blob',
    aggregateId: '1',
    type: 'blob.stored',
    payload: 'é'.repeat(payloadBytes / 2),
  })
  const headerBytes = (fact: Fact) => expectedContent({ ...fact, payload: '' }).length

  test('an envelope of exactly maxBytes is emitted; one byte more is rejected before any SQL', async () => {
    const source = uniqueSource()
    const probe = createEmitter({ source }).prepare(sizedFact(0)).facts[0]!
    const maxBytes = headerBytes(probe) + 4000
    const facts = createEmitter({ source, maxBytes })
    await inTransaction((tx) => facts.emit(tx, sizedFact(4000)))
    expect(await messages(source)).toHaveLength(1)
    expect((await messages(source))[0]!.content.length).toBe(maxBytes)

    const tx = recordingTx()
    const error = await facts.emit(tx, sizedFact(4002)).catch((error: unknown) => error)
    expect(error).toBeInstanceOf(ValidationError)
    expect(error).toMatchObject({ code: 'FACT_TOO_LARGE', field: 'payload', rule: 'maxBytes' })
    expect((error as Error).message).toContain(`${maxBytes + 2} > ${maxBytes}`)
    expect(tx.queries).toEqual([])
  })

  test('the default limit is 900 KiB of encoded envelope', async () => {
    const facts = createEmitter({ source: 'orders' })
    const probe = facts.prepare(sizedFact(0)).facts[0]!
    const room = 900 * 1024 - headerBytes(probe)
    expect(() => facts.prepare({ ...sizedFact(0), payload: new Uint8Array(room) })).not.toThrow()
    expect(() => facts.prepare({ ...sizedFact(0), payload: new Uint8Array(room + 1) })).toThrow(
      expect.objectContaining({ code: 'FACT_TOO_LARGE' }),
    )
  })
})

describe('transactions, not pools', () => {
  test('a pg.Pool is rejected before any SQL, with a message saying what to pass', async () => {
    const source = uniqueSource()
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const error = await createEmitter({ source })
      .emit(pool, order('1'))
      .catch((error: unknown) => error)
      .finally(() => pool.end())
    expect(error).toBeInstanceOf(FactlibError)
    expect(error).toMatchObject({ code: 'EMIT_POOL_NOT_ALLOWED' })
    expect((error as Error).message).toMatch(/transaction's client, not a pool/)
    expect(pool.totalCount).toBe(0)
  })

  test('a client checked out of a pg.Pool emits in its transaction', async () => {
    const source = uniqueSource()
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const client = await pool.connect()
    try {
      await client.query('begin')
      const fact = await createEmitter({ source }).emit(client, order('1'))
      await client.query('commit')
      expect((await messages(source)).map((message) => message.content.toString())).toEqual([
        expectedContent(fact).toString(),
      ])
    } finally {
      client.release()
      await pool.end()
    }
  })

  test.each([
    ['undefined', undefined],
    ['an object without query()', { execute: async () => {} }],
  ])('%s as tx is rejected with EMIT_TX_INVALID', async (_, tx) => {
    const error = await createEmitter({ source: 'orders' })
      .emit(tx as never, order('1'))
      .catch((error: unknown) => error)
    expect(error).toMatchObject({ code: 'EMIT_TX_INVALID' })
  })

  test('a database error is the driver error, unchanged, and the transaction rolls back', async () => {
    const source = uniqueSource()
    const facts = createEmitter({ source })
    const error = await withClient(db.url, async (client) => {
      await client.query('begin')
      await client.query('select 1/0').catch(() => {})
      return facts.emit(client, order('1')).catch((error: unknown) => error)
    })
    expect(error).toBeInstanceOf(pg.DatabaseError)
    expect(error).toMatchObject({ code: '25P02' })
    expect(await messages(source)).toEqual([])
  })
})

describe('hooks', () => {
  test('clock, id and traceContext hooks fill facts that give none; a fact’s own values win', async () => {
    const source = uniqueSource()
    let next = 0
    const ids = ['01890a5d-ac96-774b-bcce-b302099a8057', '01890a5d-ac96-774b-bcce-b302099a8058']
    const facts = createEmitter({
      source,
      clock: () => new Date('2030-01-02T03:04:05.678Z'),
      id: () => ids[next++]!,
      traceContext: () => ({
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'rojo=00f067aa0ba902b7',
      }),
    })
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'
    const emitted = await inTransaction((tx) =>
      facts.emit(tx, [order('1'), { ...order('2'), traceparent: own, time: new Date(0) }]),
    )
    expect(
      emitted.map(({ id, time, traceparent, tracestate }) => ({ id, time, traceparent, tracestate })),
    ).toEqual([
      {
        id: ids[0],
        time: '2030-01-02T03:04:05.678Z',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'rojo=00f067aa0ba902b7',
      },
      { id: ids[1], time: '1970-01-01T00:00:00.000Z', traceparent: own, tracestate: undefined },
    ])
    const wal = await messages(source)
    expect(wal.map((message) => message.content.toString())).toEqual(
      emitted.map((fact) => expectedContent(fact).toString()),
    )
  })

  test('generated ids are UUIDv7 with the emit time, and sort in order within one millisecond', () => {
    const at = new Date('2024-05-06T07:08:09.123Z')
    const facts = createEmitter({ source: 'orders', clock: () => at })
    const ids = facts
      .prepare(Array.from({ length: 5000 }, (_, i) => order(String(i))))
      .facts.map((fact) => fact.id)
    for (const id of ids) expect(id).toMatch(UUID_V7)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    // The first 48 bits are the Unix time in milliseconds (later ids may carry into the next millisecond).
    expect(Number.parseInt(ids[0]!.replace('-', '').slice(0, 12), 16)).toBe(at.getTime())
  })
})
