import { decodeEnvelope } from '@factlib/emit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runCli } from '../../../test/harness/cli.js'
import { freshDatabase, uniqueName } from '../../../test/harness/index.js'
import { createWalReader, type WalReader } from '../../../test/harness/wal.js'

const db = await freshDatabase('cli_emit')
let wal: WalReader
beforeAll(async () => {
  wal = await createWalReader(db.url)
})
afterAll(() => wal?.drop())

const messagesOf = async (source: string) =>
  (await wal.messages()).filter((message) => message.prefix === source)

describe('factlib emit', () => {
  test('emits one fact from flags into the WAL, as @factlib/emit does', async () => {
    const source = uniqueName('cli')
    const { code, stdout, stderr } = await runCli(
      [
        'emit',
        '--source',
        source,
        '--aggregate-type',
        'order',
        '--aggregate-id',
        '42',
        '--type',
        'order.placed',
        '--data',
        '{"total":9,"items":["a"]}',
        '--metadata',
        'tenant=acme',
      ],
      { env: { DATABASE_URL: db.url } },
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const id = /^emitted ([0-9a-f-]{36}) (\S+)\.order 42 order\.placed\n$/.exec(stdout)
    expect(id?.[2]).toBe(source)
    const messages = await messagesOf(source)
    expect(messages).toHaveLength(1)
    const { header, payload } = decodeEnvelope(messages[0]!.content)
    expect(header).toMatchObject({
      v: 1,
      id: id?.[1],
      type: 'order.placed',
      aggregateType: 'order',
      aggregateId: '42',
      contentType: 'application/json',
      metadata: { tenant: 'acme' },
    })
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ total: 9, items: ['a'] })
  })

  test('emits JSON lines from stdin in one transaction, in order, flags as defaults; --json prints them', async () => {
    const source = uniqueName('cli')
    const other = uniqueName('cli')
    const lines = [
      { aggregateId: 'a-1', type: 'order.placed', data: { n: 1 } },
      { aggregateId: 'a-2', type: 'order.note', payload: 'plain text', contentType: 'text/plain' },
      { aggregateId: 'a-1', aggregateType: 'invoice', type: 'invoice.sent', data: null, source: other },
    ]
    const { code, stdout, stderr } = await runCli(
      ['emit', '--source', source, '--aggregate-type', 'order', '--json', '-'],
      {
        env: { DATABASE_URL: db.url },
        input: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n\n`,
      },
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const printed = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(printed.map((fact) => [fact.source, fact.aggregateType, fact.aggregateId, fact.type])).toEqual([
      [source, 'order', 'a-1', 'order.placed'],
      [source, 'order', 'a-2', 'order.note'],
      [other, 'invoice', 'a-1', 'invoice.sent'],
    ])
    const messages = (await wal.messages()).filter((message) => [source, other].includes(message.prefix))
    expect(messages.map((message) => decodeEnvelope(message.content).header.id)).toEqual(
      printed.map((fact) => fact.id),
    )
    expect(new Set(messages.map((message) => message.commitEndLsn)).size).toBe(1)
    expect(new TextDecoder().decode(decodeEnvelope(messages[1]!.content).payload)).toBe('plain text')
  })

  test('one invalid line emits nothing at all and names the line', async () => {
    const source = uniqueName('cli')
    const { code, stdout, stderr } = await runCli(
      ['emit', '--source', source, '--aggregate-type', 'order', '-'],
      {
        env: { DATABASE_URL: db.url },
        input: [
          JSON.stringify({ aggregateId: '1', type: 't', data: 1 }),
          JSON.stringify({ aggregateId: '2', type: 't', data: 2 }),
          JSON.stringify({ aggregateId: '3', type: 't', data: 3, metadata: { ce_id: 'x' } }),
        ].join('\n'),
      },
    )
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toMatch(
      /^factlib emit: stdin line 3: invalid fact metadata\.ce_id: reserved.* \[FACT_INVALID\]\n$/,
    )
    expect(await messagesOf(source)).toEqual([])
  })

  test('with --json the invalid line is also a JSON error: code, field, rule and line', async () => {
    const source = uniqueName('cli')
    const { code, stdout, stderr } = await runCli(
      ['emit', '--source', source, '--aggregate-type', 'order', '--json', '-'],
      {
        env: { DATABASE_URL: db.url },
        input: [
          JSON.stringify({ aggregateId: '1', type: 't', data: 1 }),
          '',
          JSON.stringify({ aggregateId: '', type: 't', data: 2 }),
        ].join('\n'),
      },
    )
    expect(code).toBe(1)
    expect(stderr).toMatch(
      /^factlib emit: stdin line 3: invalid fact aggregateId: required \[FACT_INVALID\]\n$/,
    )
    expect(JSON.parse(stdout)).toEqual({
      error: {
        code: 'FACT_INVALID',
        message: 'stdin line 3: invalid fact aggregateId: required',
        field: 'aggregateId',
        rule: 'required',
        line: 3,
      },
    })
    expect(await messagesOf(source)).toEqual([])
  })
})
