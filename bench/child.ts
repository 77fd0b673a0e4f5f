import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** A child process whose stdout lines are collected and can be waited for. */
export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  readonly lines: string[]
  readonly exited: Promise<number | string>
  /** Resolves with the first stdout line (from index `from`) matching; rejects if the process exits first. */
  line(match: (line: string) => boolean, timeoutMs?: number, from?: number): Promise<string>
  /** The process's stderr so far (its last 4 KB). */
  stderr(): string
  /** Write a line to the process's stdin. */
  send(line: string): void
  kill(signal?: NodeJS.Signals): void
}

export function spawnChild(command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  child.stdin?.on('error', () => {})
  const lines: string[] = []
  let rest = ''
  let errors = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    lines.push(...parts.filter(Boolean))
    for (const wake of waiters) wake()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString('utf8')).slice(-4096)
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown')
      for (const wake of waiters) wake()
    }),
  )
  return {
    process: child,
    pid: child.pid ?? 0,
    lines,
    exited,
    line(match, timeoutMs = 300_000, from = 0) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`${command} printed no expected line within ${timeoutMs} ms; stderr: ${errors}`))
        }, timeoutMs)
        const check = () => {
          const found = lines.slice(from).find(match)
          if (found !== undefined) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(found)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`${command} exited (${child.exitCode ?? child.signalCode}); stderr: ${errors}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
    stderr: () => errors,
    send(line) {
      child.stdin?.write(`${line}\n`)
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
  }
}

/** Run one of the bench's TypeScript files as its own Node process (its CPU is then its own). */
export function spawnScript(script: string, args: string[], env: Record<string, string> = {}): Child {
  return spawnChild(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...args], env)
}
