import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, onTestFinished } from 'vitest'
import { kafkaBrokers, uniqueName, waitFor } from '../../../../test/harness/index.js'

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

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
  /** Wait for a log line whose `msg` matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>
  /** The HTTP port from the "relay started" log line. */
  httpPort(): Promise<number>
  /** `GET` an HTTP endpoint of the relay. */
  get(path: string): Promise<{ status: number; body: string }>
  /** Resident memory in bytes, from /proc. */
  rss(): number
  kill(signal?: NodeJS.Signals): void
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | string>
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

const leftovers = new Set<() => void>()
afterAll(() => {
  for (const kill of leftovers) kill()
})

/** Start `factlib relay` with `env` on top of a minimal environment (no inherited FACTLIB_/KAFKA_ settings). */
export function startRelayProcess(env: Record<string, string>, args: string[] = []): RelayProcess {
  const child = spawn(process.execPath, [cli, 'relay', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', FACTLIB_HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
  // A test that fails half-way must not leave a relay running (and holding its slot) behind it.
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  leftovers.add(kill)
  void exited.then(() => leftovers.delete(kill))
  try {
    onTestFinished(kill)
  } catch {
    // Started in a hook, not a test: the afterAll above stops it with the file.
  }
  const waitForLog = (msg: string | RegExp, timeoutMs = 30_000) =>
    waitFor(
      `relay log ${String(msg)}`,
      () => {
        const found = logs.find((log) =>
          typeof msg === 'string' ? log.msg === msg : msg.test(String(log.msg ?? log.raw)),
        )
        if (!found && child.exitCode !== null)
          throw new Error(
            `the relay exited (${child.exitCode}) first; its logs:\n${logs.map((log) => JSON.stringify(log)).join('\n')}`,
          )
        return found
      },
      { timeoutMs },
    )
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
      child.kill('SIGTERM')
      return exited
    },
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let rest = ''
  stream?.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8')
    const parts = text.split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) if (part) onLine(part)
  })
}
