import { describe, expect, test } from 'vitest'
import { runCli } from '../../../test/harness/cli.js'

const COMMANDS = ['dev', 'emit', 'setup', 'doctor', 'status', 'relay']
/** A complete `factlib emit` but for its content, which each case adds or gets wrong. */
const EMIT = ['emit', '--source', 's', '--aggregate-type', 't', '--aggregate-id', '1', '--type', 'x']
/** A complete `factlib emit` of a fact the emitter refuses: its aggregateType has a space. */
const INVALID_FACT = [
  'emit',
  '--source',
  's',
  '--aggregate-type',
  'not valid',
  '--aggregate-id',
  '1',
  '--type',
  'x',
  '--data',
  '{}',
]
const NO_DB = { DATABASE_URL: 'postgres://factlib:pw@127.0.0.1:1/app' }

/** One line on stderr naming the command, with the error code; never a stack trace. */
function expectOneLineError(stderr: string, command: string) {
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1)
  expect(stderr).toMatch(new RegExp(`^factlib ${command}: .+ \\[[A-Z_]+\\]\\n$`))
  expect(stderr).not.toMatch(/\n\s+at /)
}

describe('every command explains itself and refuses bad input in one line', () => {
  test.concurrent.each(COMMANDS)('factlib %s --help prints its flags and examples', async (command) => {
    const { code, stdout, stderr } = await runCli([command, '--help'])
    expect(code).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toMatch(new RegExp(`^Usage: factlib ${command}`))
    expect(stdout).toContain('\nExamples:\n')
    expect(stdout).toMatch(new RegExp(`\\n  (\\S+=\\S+ )*factlib ${command}`))
  })

  test.concurrent('factlib --help lists every command', async () => {
    const { code, stdout } = await runCli(['--help'])
    expect(code).toBe(0)
    for (const command of COMMANDS) expect(stdout).toMatch(new RegExp(`\\n  ${command} +\\S`))
  })

  test.concurrent.each(COMMANDS)('factlib %s --no-such-flag is a usage error', async (command) => {
    const { code, stdout, stderr } = await runCli([command, '--no-such-flag'], { env: NO_DB })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expectOneLineError(stderr, command)
    expect(stderr).toContain("Unknown option '--no-such-flag'")
    expect(stderr).toContain(`see factlib ${command} --help`)
  })

  test.concurrent.each([
    [['doctor'], 'DATABASE_URL (--database-url) is not set'],
    [[...EMIT, '--data', '1'], '--database-url is required'],
    [['emit', '--source', 's', '--type', 'x', '--data', '1'], '--aggregate-type is required', NO_DB],
    [EMIT, '--data <json> or --payload <text> is required', NO_DB],
    [['dev', '--port'], "Option '--port <value>' argument missing"],
  ] as Array<[string[], string, Record<string, string>?]>)(
    'a missing required option: factlib %j',
    async (args, expected, env) => {
      const { code, stderr } = await runCli(args, env ? { env } : {})
      expect(code).toBe(2)
      expectOneLineError(stderr, args[0] as string)
      expect(stderr).toContain(expected)
    },
  )

  test.concurrent.each([
    [[...EMIT, '--data', '{"total":'], '', '--data is not valid JSON'],
    [
      ['emit', '--source', 's', '--aggregate-type', 't', '-'],
      '{"aggregateId":"1","type":"x","data":{}}\n{"aggregateId":',
      'stdin line 2: invalid JSON',
    ],
    [
      ['emit', '--source', 's', '--aggregate-type', 't', '-'],
      '[1]\n',
      'stdin line 1: expected a JSON object',
    ],
    [[...EMIT, '--data', '1', 'extra'], '', 'unexpected argument "extra"'],
    [[...EMIT, '--data', '1', '--metadata', 'novalue'], '', 'expected key=value'],
    [['dev', '--port', 'eighty'], '', '--port is "eighty"; expected an integer'],
    [['dev', '--status-interval', '0'], '', '--status-interval is "0"'],
    [['status', '--interval', 'soon'], '', '--interval is "soon"'],
    [['status', '--relay-url', 'not a url'], '', '--relay-url is "not a url"'],
    [['setup', '--role', 'Relay-Role'], '', '--role is "Relay-Role"'],
    [['setup', '--dry-run', '--drop'], '', '--dry-run and --drop exclude each other'],
    [['doctor', '--kafka-brokers', 'nohost'], '', 'KAFKA_BROKERS (--kafka-brokers) is "nohost"'],
    [
      ['relay', '--sink', 'stdout', '--log-level', 'warning'],
      '',
      'FACTLIB_LOG_LEVEL (--log-level) is "warning"; expected one of: debug, info, warn, error',
    ],
  ] as Array<[string[], string, string]>)('invalid input: factlib %j', async (args, input, expected) => {
    const { code, stdout, stderr } = await runCli(args, { input, env: NO_DB })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expectOneLineError(stderr, args[0] as string)
    expect(stderr).toContain(expected)
  })

  test.concurrent('an unknown FACTLIB_LOG_LEVEL is refused with the levels, not taken for debug', async () => {
    const { code, stdout, stderr } = await runCli(['relay'], {
      env: { ...NO_DB, FACTLIB_SINK: 'stdout', FACTLIB_LOG_LEVEL: 'verbose' },
    })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expectOneLineError(stderr, 'relay')
    expect(stderr).toContain(
      'FACTLIB_LOG_LEVEL (--log-level) is "verbose"; expected one of: debug, info, warn, error',
    )
    expect(stderr).toContain('[CONFIG_INVALID]')
  })

  test.concurrent('factlib relay --help lists --log-level with its levels, like every other variable', async () => {
    const { stdout } = await runCli(['relay', '--help'])
    expect(stdout).toMatch(
      /\n {2}--log-level <value> +FACTLIB_LOG_LEVEL +debug, info, warn, error.* \[info\]\n/,
    )
    expect(stdout).toMatch(/\n {2}--slot <value> +FACTLIB_SLOT +logical replication slot \[factlib\]\n/)
  })

  test.concurrent('an invalid fact is rejected before any SQL, naming the field', async () => {
    const { code, stderr } = await runCli(INVALID_FACT, { env: NO_DB })
    expect(code).toBe(1)
    expectOneLineError(stderr, 'emit')
    expect(stderr).toContain('invalid fact aggregateType: pattern')
    expect(stderr).toContain('[FACT_INVALID]')
  })

  test.concurrent('with --json an invalid fact is also a JSON error with its code, field and rule', async () => {
    const { code, stdout, stderr } = await runCli([...INVALID_FACT, '--json'], { env: NO_DB })
    expect(code).toBe(1)
    expectOneLineError(stderr, 'emit')
    const { error } = JSON.parse(stdout) as { error: Record<string, unknown> }
    expect(error).toMatchObject({ code: 'FACT_INVALID', field: 'aggregateType', rule: 'pattern' })
    expect(error.message).toMatch(/^invalid fact aggregateType: pattern/)
    expect(error).not.toHaveProperty('line')
  })

  test.concurrent.each([
    ['emit', '--source', 's', '--aggregate-type', 't', '--aggregate-id', '1', '--type', 'x', '--data', '{}'],
    ['status'],
  ])('an unreachable database is one line without the password: factlib %s', async (...args) => {
    const { code, stderr } = await runCli(args, { env: NO_DB })
    expect(code).toBe(1)
    expectOneLineError(stderr, args[0] as string)
    expect(stderr).toContain('cannot connect to postgres://factlib:***@127.0.0.1:1/app')
    expect(stderr).not.toContain(':pw@')
  })

  test.concurrent('doctor reports an unreachable database as a failed check with the reason and the fix apart', async () => {
    const { code, stdout } = await runCli(['doctor', '--json'], { env: NO_DB })
    expect(code).toBe(1)
    const { checks } = JSON.parse(stdout) as { checks: Array<Record<string, string>> }
    expect(checks[0]).toMatchObject({
      id: 'connection',
      status: 'fail',
      detail: expect.stringMatching(
        /^cannot connect to postgres:\/\/factlib:\*\*\*@127\.0\.0\.1:1\/app: .*ECONNREFUSED/,
      ),
      fix: expect.stringMatching(
        /^check the host and port, .*; the rest of the database checks need a connection$/,
      ),
    })
    expect(stdout).not.toContain(':pw@')
  })

  test.concurrent('an unknown command prints the usage and exits 2', async () => {
    const { code, stderr } = await runCli(['deploy'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/^factlib: unknown command "deploy"\n\nUsage: factlib <command>/)
  })
})
