// The `factlib` command as child processes of a test: one-shot runs, long-running ones (`dev`, `npm start`,
// `status --watch`) and relays. Each is killed when its test ends, or with its file when started in a hook.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, onTestFinished } from 'vitest'
import { kafkaBrokers } from './index.js'
import { uniqueName } from './names.js'
import { launchRelay, type RelayProcess, relayCli } from './relay-process.js'
import { waitFor } from './wait.js'

export type { RelayProcess } from './relay-process.js'

/** The built `factlib` command, as npm installs it. */
export const cli = relayCli
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** A minimal environment: no inherited DATABASE_URL, FACTLIB_ or KAFKA_ settings. */
export const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
})

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `factlib <args>` to completion. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...baseEnv(), ...options.env },
    cwd: options.cwd ?? repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  child.stdin.end(options.input ?? '')
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

const leftovers = new Set<() => void>()
afterAll(() => {
  for (const kill of leftovers) kill()
})

/** A test that fails half-way must not leave a process (`dev` and its PostgreSQL, a relay and its slot) behind. */
function killWithTest(kill: () => void): void {
  leftovers.add(kill)
  try {
    onTestFinished(kill)
  } catch {
    // Started in a hook, not a test: the afterAll above stops it with the file.
  }
}

/** A long-running process (`factlib dev`, `npm start`, `status --watch`) and what it printed so far. */
export interface Running {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>
  /** Wait until the output (stdout or stderr) matches; returns the match. Fails early if the process ends. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Send a signal to the whole process group, as a terminal's Ctrl-C does. */
  interrupt(signal?: NodeJS.Signals): void
}

/** Start a command in a process group of its own (so {@link Running.interrupt} reaches all of it). */
export function start(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Running {
  const child = spawn(command, args, {
    env: { ...baseEnv(), ...options.env },
    cwd: options.cwd ?? repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  )
  let ended = false
  void exited.then(() => {
    ended = true
  })
  killWithTest(() => {
    try {
      if (!ended && child.pid) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // The group ended between the check and the signal.
    }
  })
  const running: Running = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (stream, pattern, timeoutMs = 30_000) =>
      waitFor(
        `${pattern} on ${stream}`,
        () => {
          const match = (stream === 'stdout' ? stdout : stderr).match(pattern)
          if (!match && ended)
            throw new Error(
              `the process ended first.\nstdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`,
            )
          return match
        },
        { timeoutMs, intervalMs: 50 },
      ),
    interrupt(signal = 'SIGINT') {
      if (!ended && child.pid) process.kill(-child.pid, signal)
    },
  }
  return running
}

/** The environment of a relay with its own slot, publication and dead-letter topic; `extra` goes on top. */
export function relayEnv(databaseUrl: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    FACTLIB_SLOT: uniqueName('slot'),
    FACTLIB_PUBLICATION: uniqueName('pub'),
    FACTLIB_DLQ_TOPIC: uniqueName('dlq'),
    ...extra,
  }
}

/** Start `factlib relay <args>` with `env` on top of a minimal environment; killed when the test ends. */
export function startRelayProcess(env: Record<string, string>, args: string[] = []): RelayProcess {
  return launchRelay(env, { args, registerCleanup: killWithTest })
}

/** A temporary folder the `postgres` user can enter (the server runs as it when tests run as root). */
export async function tempDir(prefix = 'factlib-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await chmod(dir, 0o755)
  afterAll(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** True when nothing listens on the port any more. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}
