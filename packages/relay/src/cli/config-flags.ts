import type { ParseArgsConfig } from 'node:util'
import {
  CONFIG_VARIABLES,
  type ConfigVariable,
  flagName,
  parseConfig,
  type RelayConfig,
} from '../config/config.js'

/** What `setup` works on, and every database-side check of `doctor`. */
export const DATABASE_VARIABLES = [
  'DATABASE_URL',
  'FACTLIB_SLOT',
  'FACTLIB_PUBLICATION',
  'FACTLIB_CREATE_SLOT',
  'FACTLIB_SLOT_FAILOVER',
] as const satisfies readonly ConfigVariable[]

/** What the relay sends where: the sources, the sink, Kafka's brokers, credentials and topics. */
export const SINK_VARIABLES = [
  'FACTLIB_SOURCES',
  'FACTLIB_SINK',
  'KAFKA_BROKERS',
  'KAFKA_CLUSTER_ARN',
  'KAFKA_SASL',
  'KAFKA_USERNAME',
  'KAFKA_PASSWORD',
  'KAFKA_TLS',
  'FACTLIB_TOPIC',
  'FACTLIB_TOPIC_PARTITIONS',
  'FACTLIB_DLQ_TOPIC',
] as const satisfies readonly ConfigVariable[]

/** Every configuration variable, in the order the docs list them: the flags of `factlib relay`. */
export const ALL_VARIABLES = Object.keys(CONFIG_VARIABLES) as ConfigVariable[]

type FlagOptions = NonNullable<ParseArgsConfig['options']>

/** A flag of one command that is not a configuration variable: how it parses and its `--help` text. */
export interface CommandFlag {
  type: 'string' | 'boolean'
  /** A string flag given more than once collects every value. */
  multiple?: boolean
  /** The value's placeholder in `--help`, e.g. `<name>` (string flags). */
  value?: string
  help: string
}

/**
 * A command's flags from one place: the configuration variables it reads, then its own flags, as
 * `parseArgs` options and as the `--help` lines, in the same order. `meaning` replaces a variable's text
 * where the command uses it differently.
 *
 * @example
 * ```ts
 * const FLAGS = commandFlags(DATABASE_VARIABLES, { json: { type: 'boolean', help: 'print JSON' } })
 * parseFlags('setup', argv, FLAGS.options)
 * ```
 */
export function commandFlags(
  variables: readonly ConfigVariable[],
  own: Record<string, CommandFlag> = {},
  meaning: Partial<Record<ConfigVariable, string>> = {},
): { options: FlagOptions; help: string } {
  const options: FlagOptions = { ...configFlagOptions(variables) }
  const lines = variables.length ? [configFlagHelp(variables, meaning)] : []
  for (const [name, flag] of Object.entries(own)) {
    options[name] = flag.multiple ? { type: flag.type, multiple: true } : { type: flag.type }
    lines.push(helpLine(`--${name}${flag.value ? ` ${flag.value}` : ''}`, flag.help))
  }
  return { options, help: lines.join('\n') }
}

/** `parseArgs` options for the flags of these configuration variables (`--slot`, `--kafka-brokers`, …). */
export function configFlagOptions(variables: readonly ConfigVariable[]): Record<string, { type: 'string' }> {
  return Object.fromEntries(variables.map((variable) => [flagName(variable), { type: 'string' as const }]))
}

/**
 * `--help` lines for these variables: flag, variable, meaning and default; `meaning` replaces the text
 * after the variable where a command uses it differently.
 */
export function configFlagHelp(
  variables: readonly ConfigVariable[],
  meaning: Partial<Record<ConfigVariable, string>> = {},
): string {
  return variables
    .map((variable) => {
      const { doc, default: fallback } = CONFIG_VARIABLES[variable]
      const text = meaning[variable] ?? `${doc}${fallback === undefined ? '' : ` [${fallback}]`}`
      return helpLine(`--${flagName(variable)} <value>`, `${variable.padEnd(26)} ${text}`)
    })
    .join('\n')
}

function helpLine(flag: string, text: string): string {
  return `  ${flag.padEnd(28)} ${text}`
}

/** The string flags of a parsed command line, by name. */
export function stringFlags(values: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  )
}

/**
 * The configuration for commands that inspect rather than relay (`setup`, `doctor`, `status`): parsed by
 * {@link parseConfig} like the relay's, except that no sink configured means the stdout sink instead of an
 * error, so these commands run with only DATABASE_URL.
 */
export function inspectConfig(
  flags: Record<string, string | undefined>,
  env: Record<string, string | undefined> = process.env,
): RelayConfig {
  const given = (variable: ConfigVariable) => Boolean((flags[flagName(variable)] ?? env[variable])?.trim())
  const sinkConfigured = given('FACTLIB_SINK') || given('KAFKA_BROKERS') || given('KAFKA_CLUSTER_ARN')
  return parseConfig(sinkConfigured ? env : { ...env, FACTLIB_SINK: 'stdout' }, flags)
}
