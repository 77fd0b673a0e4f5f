import { describe, expect, test } from 'vitest'
import { relaySpec } from '../../../infra/spec/index.js'
import { runCli } from '../../../test/harness/cli.js'
import { parseConfig } from '../src/config/config.js'

const base = { DATABASE_URL: 'postgres://relay@db:5432/app', FACTLIB_SINK: 'stdout' }
const kafka = {
  kind: 'msk-iam',
  clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/facts/1b2c3d4e-1111-2222-3333-444455556666-s1',
} as const

describe('the drain bounds', () => {
  test('come from FACTLIB_DRAIN_MAX_SECONDS / FACTLIB_DRAIN_MAX_FACTS or --max-seconds / --max-facts', () => {
    expect(parseConfig(base)).toMatchObject({ drainMaxSeconds: undefined, drainMaxFacts: undefined })
    const env = { ...base, FACTLIB_DRAIN_MAX_SECONDS: '240', FACTLIB_DRAIN_MAX_FACTS: '5000' }
    expect(parseConfig(env)).toMatchObject({ drainMaxSeconds: 240, drainMaxFacts: 5000 })
    expect(parseConfig(env, { 'max-seconds': '30' })).toMatchObject({ drainMaxSeconds: 30 })
    expect(() => parseConfig({ ...base, FACTLIB_DRAIN_MAX_FACTS: '1.5' })).toThrow(
      'FACTLIB_DRAIN_MAX_FACTS (--max-facts) is "1.5"; expected an integer from 1 to',
    )
  })

  test("are accepted by the infra spec's validation, and a bad value fails the build naming it", () => {
    const spec = relaySpec({ kafka, environment: { FACTLIB_DRAIN_MAX_SECONDS: '240' } })
    expect(spec.container.environment.FACTLIB_DRAIN_MAX_SECONDS).toBe('240')
    expect(() => relaySpec({ kafka, environment: { FACTLIB_DRAIN_MAX_SECONDS: '0' } })).toThrow(
      /FACTLIB_DRAIN_MAX_SECONDS/,
    )
  })

  test('--help documents --drain, the bounds and every exit code; a bound without --drain is a usage error', async () => {
    const help = await runCli(['relay', '--help'])
    expect(help.stdout).toMatch(/--drain\s+relay up to the server's flushed WAL position/)
    expect(help.stdout).toMatch(/--max-seconds <value>\s+FACTLIB_DRAIN_MAX_SECONDS/)
    expect(help.stdout).toMatch(/--max-facts <value>\s+FACTLIB_DRAIN_MAX_FACTS/)
    for (const code of ['0  drained', '1  failure', '2  usage', '3  a bound', '4  the slot is busy'])
      expect(help.stdout).toContain(code)
    const misuse = await runCli(['relay', '--max-facts', '10'], { env: base })
    expect(misuse.code).toBe(2)
    expect(misuse.stderr).toContain('--max-seconds and --max-facts bound a drain: add --drain')
  })
})
