import { FactlibError, ValidationError } from '@factlib/emit'
import { describe, expect, test } from 'vitest'
import { FactInputError, failureJson, prepareAll } from '../src/cli/commands/emit-facts.js'
import { checksTable } from '../src/cli/table.js'
import { errorFields } from '../src/util/error-fields.js'
import {
  assertChecks,
  type CheckResult,
  DatabaseUnreachableError,
  explainConnectError,
  PrerequisiteError,
} from '../src/wal/prerequisites.js'
import { fixFor } from '../src/wal/provider-fixes.js'
import { SlotLostError } from '../src/wal/slot.js'
import { SlotBusyError } from '../src/wal/stream.js'

describe('errorFields reads code, detail and hint without casts', () => {
  test('from an error as pg makes it, or a Node system error', () => {
    const database = Object.assign(new Error('slot "x" is active for PID 7'), {
      code: '55006',
      detail: 'some detail',
      hint: 'a hint',
    })
    expect(errorFields(database)).toEqual({ code: '55006', detail: 'some detail', hint: 'a hint' })
    const system = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: -111 })
    expect(errorFields(system)).toEqual({ code: 'ECONNREFUSED', detail: undefined, hint: undefined })
  })

  test.each([
    ['a plain object with a code', { code: '55006', message: 'x' }],
    ['an error with a numeric code', Object.assign(new Error('x'), { code: 23 })],
    ['an error without a code', new Error('x')],
    ['undefined', undefined],
  ])('nothing from %s', (_, error) => {
    expect(errorFields(error)).toBeUndefined()
  })
})

describe('the relay’s errors are FactlibErrors with a code', () => {
  test('SlotBusyError: SLOT_BUSY, retriable, the server’s error as cause', () => {
    const cause = Object.assign(new Error('replication slot "s" is active for PID 42'), { code: '55006' })
    const error = new SlotBusyError('s', cause)
    expect(error).toBeInstanceOf(FactlibError)
    expect(error).toMatchObject({ name: 'SlotBusyError', code: 'SLOT_BUSY', retriable: true, cause })
    expect(error.message).toBe(
      'replication slot "s" is in use by another reader: replication slot "s" is active for PID 42',
    )
  })

  test('SlotLostError: SLOT_LOST, not retriable', () => {
    const error = new SlotLostError('s')
    expect(error).toBeInstanceOf(FactlibError)
    expect(error).toMatchObject({ name: 'SlotLostError', code: 'SLOT_LOST', retriable: false })
  })

  test.each([
    ['28P01', 'the password is wrong for this user', false],
    [
      'ECONNREFUSED',
      'check the host and port, and that security groups or firewalls let this machine in',
      true,
    ],
    ['3D000', 'the database does not exist; check the path of DATABASE_URL', false],
  ])(
    'an unreachable database (%s) carries the reason and the fix apart, without the password',
    (code, fix, retriable) => {
      const cause = Object.assign(new Error('it failed'), { code })
      const error = explainConnectError(cause, 'postgres://relay:hunter2@db:5432/app')
      expect(error).toBeInstanceOf(DatabaseUnreachableError)
      expect(error).toMatchObject({
        code: 'DATABASE_UNREACHABLE',
        reason: 'it failed',
        fix,
        retriable,
        cause,
      })
      expect(error.message).toBe(`cannot connect to postgres://relay:***@db:5432/app: it failed (${fix})`)
    },
  )

  test('a failed prerequisite carries the check itself', () => {
    const check: CheckResult = {
      id: 'wal_level',
      title: 'wal_level = logical',
      status: 'fail',
      detail: "wal_level is 'replica'",
      ...fixFor('walLevel', 'rds'),
    }
    const passed: CheckResult = { id: 'version', title: 'PostgreSQL ≥ 14', status: 'pass', detail: '17.2' }
    expect(() => assertChecks([passed])).not.toThrow()
    let thrown: unknown
    try {
      assertChecks([passed, check])
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(PrerequisiteError)
    expect(thrown).toMatchObject({ code: 'PREREQUISITE_WAL_LEVEL', check })
    expect((thrown as Error).message).toContain('Fix: set rds.logical_replication = 1')
  })
})

describe('a check’s fix per provider is data, and the table prints it without parsing it back', () => {
  test('a known provider gets its own fix only', () => {
    expect(fixFor('walLevel', 'neon')).toEqual({
      fix: expect.stringMatching(/^enable logical replication in the Neon Console/),
    })
  })

  test('an unknown host gets every provider’s fix, as one line and as a list; the role is filled in each', () => {
    const { fix, fixes } = fixFor('replication', 'postgres', 'orders_relay')
    expect(fixes?.map((each) => each.name)).toEqual([
      'self-managed PostgreSQL',
      'RDS',
      'Aurora',
      'Neon',
      'Supabase',
      'Cloud SQL',
    ])
    expect(fixes?.[0]?.fix).toBe('ALTER ROLE orders_relay WITH REPLICATION;')
    expect(fixes?.[1]).toEqual({
      provider: 'rds',
      name: 'RDS',
      fix: 'GRANT rds_replication TO orders_relay;',
    })
    expect(fix).toBe(
      `ALTER ROLE orders_relay WITH REPLICATION; (${fixes
        ?.slice(1)
        .map((each) => `${each.name}: ${each.fix}`)
        .join('; ')})`,
    )
    expect(fix).not.toContain('<relay role>')
  })

  test('checksTable prints each provider’s fix on its own line under the first', () => {
    const table = checksTable([
      {
        id: 'wal_level',
        title: 'wal_level = logical',
        status: 'fail',
        detail: "wal_level is 'replica'",
        ...fixFor('walLevel', 'postgres'),
      },
      {
        id: 'encoding',
        title: 'encoding',
        status: 'warn',
        detail: 'odd',
        fix: 'use UTF8; (RDS: not a list)',
      },
    ])
    const lines = table.split('\n')
    expect(lines[0]).toMatch(/^ {2}✗ FAIL {2}wal_level = logical {2}wal_level is 'replica'$/)
    expect(lines[1]).toMatch(/^ +fix: set wal_level = logical \(ALTER SYSTEM/)
    const indent = lines[1]?.indexOf('fix: ') ?? -1
    expect(lines.slice(2, 7).map((line) => line.slice(indent + 5).split(':')[0])).toEqual([
      'RDS',
      'Aurora',
      'Neon',
      'Supabase',
      'Cloud SQL',
    ])
    // A fix without per-provider data stays one line, whatever its text looks like.
    expect(lines[8]).toMatch(/^ +fix: use UTF8; \(RDS: not a list\)$/)
    expect(lines.at(-1)).toBe('1 of 2 checks failed, 1 warned.')
  })
})

describe('factlib emit keeps the emitter’s code, field and rule', () => {
  const line = (n: number, fact: Record<string, unknown>) => ({
    fact: { source: 'shop', aggregateType: 'order', aggregateId: String(n), type: 't', data: n, ...fact },
    line: n,
  })

  test('an invalid fact of a batch names its line and the fact, not its index in the batch', () => {
    const inputs = [line(1, {}), line(2, {}), line(3, { metadata: { ce_id: 'x' } })]
    let thrown: unknown
    try {
      prepareAll(inputs)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(FactInputError)
    const error = thrown as FactInputError
    expect(error).toMatchObject({ code: 'FACT_INVALID', field: 'metadata.ce_id', rule: 'reserved', line: 3 })
    expect(error.message).toMatch(/^stdin line 3: invalid fact metadata\.ce_id: reserved/)
    expect(error.cause).toBeInstanceOf(ValidationError)
    expect(failureJson(error)).toEqual({
      error: {
        code: 'FACT_INVALID',
        message: error.message,
        field: 'metadata.ce_id',
        rule: 'reserved',
        line: 3,
      },
    })
  })

  test('a fact from flags has no line; an invalid source is the emitter’s OPTIONS_INVALID', () => {
    const fromFlags = () => prepareAll([{ ...line(1, { aggregateType: 'not valid' }), line: undefined }])
    expect(fromFlags).toThrow(/^invalid fact aggregateType: pattern/)
    expect(fromFlags).toThrow(
      expect.objectContaining({ field: 'aggregateType', rule: 'pattern', line: undefined }),
    )
    expect(() => prepareAll([line(1, {}), line(2, { source: 'no spaces' })])).toThrow(
      expect.objectContaining({ code: 'OPTIONS_INVALID', field: 'source', rule: 'pattern', line: 2 }),
    )
  })

  test('valid lines become one statement per source run, in order', () => {
    const statements = prepareAll([line(1, {}), line(2, {}), line(3, { source: 'other' }), line(4, {})])
    expect(
      statements.map((statement) => statement.facts.map((fact) => [fact.source, fact.aggregateId])),
    ).toEqual([
      [
        ['shop', '1'],
        ['shop', '2'],
      ],
      [['other', '3']],
      [['shop', '4']],
    ])
  })

  test('--json prints any other FactlibError with its code and message only', () => {
    expect(failureJson(new FactlibError('EMIT_FAILED', 'emitting failed'))).toEqual({
      error: { code: 'EMIT_FAILED', message: 'emitting failed' },
    })
  })
})
