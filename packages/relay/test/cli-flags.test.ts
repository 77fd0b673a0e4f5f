import { describe, expect, test } from 'vitest'
import { commandFlags, configFlagHelp } from '../src/cli/config-flags.js'
import { ConfigError, LOG_LEVELS, parseConfig } from '../src/config/config.js'

const ENV = { DATABASE_URL: 'postgres://relay@db:5432/app', FACTLIB_SINK: 'stdout' }

describe('commandFlags: a command’s parse options and --help lines from one place', () => {
  const flags = commandFlags(
    ['DATABASE_URL', 'FACTLIB_SLOT'],
    {
      role: { type: 'string', value: '<name>', help: 'the relay role' },
      metadata: { type: 'string', multiple: true, value: '<key=value>', help: 'repeat for more' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    { FACTLIB_SLOT: 'the slot to inspect' },
  )

  test('every flag it parses has a help line, in the same order', () => {
    const helped = [...flags.help.matchAll(/^ {2}--([a-z-]+)/gm)].map((match) => match[1])
    expect(helped).toEqual(['database-url', 'slot', 'role', 'metadata', 'json'])
    expect(Object.keys(flags.options)).toEqual(helped)
  })

  test('types, repeated values, placeholders and a command’s own meaning of a variable', () => {
    expect(flags.options).toEqual({
      'database-url': { type: 'string' },
      slot: { type: 'string' },
      role: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    })
    const lines = flags.help.split('\n')
    expect(lines[1]).toMatch(/^ {2}--slot <value> +FACTLIB_SLOT +the slot to inspect$/)
    expect(lines[2]).toMatch(/^ {2}--role <name> +the relay role$/)
    expect(lines[4]).toMatch(/^ {2}--json +print JSON$/)
    // The text column lines up for variables and a command's own flags alike.
    expect(lines[1]?.indexOf('FACTLIB_SLOT')).toBe(lines[2]?.indexOf('the relay role'))
  })

  test('the configuration variables’ lines are configFlagHelp’s (what factlib dev uses)', () => {
    expect(commandFlags(['FACTLIB_LOG_LEVEL']).help).toBe(configFlagHelp(['FACTLIB_LOG_LEVEL']))
    expect(configFlagHelp(['FACTLIB_LOG_LEVEL'])).toContain('debug, info, warn, error')
  })
})

describe('FACTLIB_LOG_LEVEL (--log-level) is part of the configuration', () => {
  test('info by default; the flag wins over the environment', () => {
    expect(parseConfig(ENV).logLevel).toBe('info')
    expect(parseConfig({ ...ENV, FACTLIB_LOG_LEVEL: 'warn' }).logLevel).toBe('warn')
    expect(parseConfig({ ...ENV, FACTLIB_LOG_LEVEL: 'warn' }, { 'log-level': 'debug' }).logLevel).toBe(
      'debug',
    )
    expect(LOG_LEVELS).toEqual(['debug', 'info', 'warn', 'error'])
  })

  test.each([
    [{ FACTLIB_LOG_LEVEL: 'warning' }, {}, 'warning'],
    [{}, { 'log-level': 'verbose' }, 'verbose'],
    [{ FACTLIB_LOG_LEVEL: 'DEBUG' }, {}, 'DEBUG'],
  ])('an unknown level is refused with the list of levels: %j %j', (env, flags, value) => {
    const parse = () => parseConfig({ ...ENV, ...env }, flags)
    expect(parse).toThrow(ConfigError)
    expect(parse).toThrow(
      `FACTLIB_LOG_LEVEL (--log-level) is "${value}"; expected one of: debug, info, warn, error`,
    )
  })
})
