// One launcher of `factlib relay` child processes, for the tests and the benchmarks alike. It imports no
// vitest: the benchmarks run it outside vitest, and the tests inject their cleanup hooks (see cli.ts).
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The built `factlib` command, as npm installs it. */
export const relayCli = fileURLToPath(new URL('../../packages/relay/dist/cli/main.js', import.meta.url))

/** A `factlib relay` child process, as an operator runs it. */
export interface RelayProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** stdout lines (stdout sink records, EMF lines). */
  readonly stdout: string[]
  /** Parsed JSON log lines from stderr; non-JSON lines as `{ raw }`. */
  readonly logs: Array<Record<string, unknown>>
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  readonly exited: Promise<number | string>
  /** Wait for a log line whose `msg` matches; fails as soon as the relay ended without one. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>
  /** The HTTP port from the "relay started" log line. */
  httpPort(): Promise<number>
  /** `GET` an HTTP endpoint of the relay. */
  get(path: string): Promise<{ status: number; body: string }>
  /** Resident memory in bytes, from /proc. */
  rss(): number
  kill(signal?: NodeJS.Signals): void
  /** SIGTERM and wait for the exit; SIGKILL after 30 s. */
  stop(): Promise<number | string>
}

export interface LaunchOptions {
  /** After `relay`: the command's flags. */
  args?: string[]
  /** Before the script: Node's own flags (`--cpu-prof`, …). */
  nodeFlags?: string[]
  /** The `factlib` script to run. @default {@link relayCli} */
  cli?: string
  /** @default the repository root */
  cwd?: string
  /**
   * Receives a function that kills the relay if it still runs: the tests hand it to vitest, so that a test
   * that fails half-way leaves no relay holding its slot.
   */
  registerCleanup?: (kill: () => void) => void
}

/** Start `factlib relay` with `env` on top of a minimal environment (no inherited FACTLIB_/KAFKA_ settings). */
export function launchRelay(env: Record<string, string>, options: LaunchOptions = {}): RelayProcess {
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), options.cli ?? relayCli, 'relay', ...(options.args ?? [])],
    {
      cwd: options.cwd ?? fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', FACTLIB_HTTP_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const stdout: string[] = []
  const logs: Array<Record<string, unknown>> = []
  lines(child.stdout, (line) => stdout.push(line))
  lines(child.stderr, (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      logs.push({ raw: line })
    }
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  )
  // Not 'exit': its last lines may still be in the pipe then.
  let closed = false
  child.once('close', () => {
    closed = true
  })
  options.registerCleanup?.(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  const waitForLog = async (msg: string | RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = logs.find((log) =>
        typeof msg === 'string' ? log.msg === msg : msg.test(String(log.msg ?? log.raw)),
      )
      if (found) return found
      if (closed || Date.now() > deadline)
        throw new Error(
          `${closed ? `the relay exited (${child.exitCode ?? child.signalCode}) first` : `timed out after ${timeoutMs} ms`} ` +
            `waiting for relay log ${String(msg)}; its logs:\n${logs.map((log) => JSON.stringify(log)).join('\n')}`,
        )
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const httpPort = async () => Number((await waitForLog('relay started')).httpPort)
  return {
    child,
    pid: child.pid ?? 0,
    stdout,
    logs,
    exited,
    waitForLog,
    httpPort,
    async get(path) {
      const response = await fetch(`http://127.0.0.1:${await httpPort()}${path}`)
      return { status: response.status, body: await response.text() }
    },
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
    },
    kill(signal = 'SIGKILL') {
      child.kill(signal)
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let rest = ''
  stream?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) if (part) onLine(part)
  })
}
