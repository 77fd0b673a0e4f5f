import {
  CONFIG_VARIABLES,
  type ConfigVariable,
  flagName,
  parseConfig,
  type RelayConfig,
} from '../config/config.js'

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
      const { doc, default: fallback } = CONFIG_VARIABLES[variable] as { doc: string; default?: string }
      const flag = `--${flagName(variable)} <value>`
      const text = meaning[variable] ?? `${doc}${fallback === undefined ? '' : ` [${fallback}]`}`
      return `  ${flag.padEnd(28)} ${variable.padEnd(26)} ${text}`
    })
    .join('\n')
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
