import { type ParseArgsConfig, parseArgs } from 'node:util'
import { FactlibError } from '@factlib/emit'

/** A usage mistake: printed as one line, exit code 2. */
export class UsageError extends FactlibError {
  constructor(message: string) {
    super('USAGE', message)
  }
}

/** A `factlib` subcommand. */
export interface Command {
  name: string
  /** The full `--help` text, with examples. */
  help: string
  /** Runs the command; resolves with the exit code. */
  run(argv: string[]): Promise<number>
}

/** `parseArgs` with strict checking; unknown flags and missing values become a {@link UsageError}. */
export function parseFlags(
  command: string,
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals = false,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals })
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new UsageError(`${message} (see factlib ${command} --help)`)
  }
}
