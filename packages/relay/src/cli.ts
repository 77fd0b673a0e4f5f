#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { FactlibError } from '@factlib/emit'
import { type Command, UsageError } from './cli-util.js'
import { devCommand } from './commands/dev.js'
import { doctorCommand } from './commands/doctor.js'
import { emitCommand } from './commands/emit.js'
import { relayCommand } from './commands/relay.js'
import { setupCommand } from './commands/setup.js'
import { statusCommand } from './commands/status.js'
import { ConfigError } from './config.js'

const commands: Command[] = [
  devCommand,
  emitCommand,
  setupCommand,
  doctorCommand,
  statusCommand,
  relayCommand,
]

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version

const usage = `Usage: factlib <command> [flags]

Commands:
${commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join('\n')}

Run \`factlib <command> --help\` for a command's flags and examples.`

/** Runs the CLI; resolves with the process exit code. Errors become one line on stderr, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`)
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version}\n`)
    return 0
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (!command) {
    process.stderr.write(`factlib: unknown command "${name}"\n\n${usage}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    const usageMistake = error instanceof UsageError || error instanceof ConfigError
    const message = error instanceof Error ? error.message : String(error)
    const code = error instanceof FactlibError ? ` [${error.code}]` : ''
    process.stderr.write(`factlib ${command.name}: ${message}${code}\n`)
    if (!(error instanceof FactlibError) && process.env.FACTLIB_DEBUG) console.error(error)
    return usageMistake ? 2 : 1
  }
}

const exitCode = await main(process.argv.slice(2))
process.exitCode = exitCode
// Open handles (sockets being closed) must not keep a finished command alive.
setTimeout(() => process.exit(exitCode), 2_000).unref()
