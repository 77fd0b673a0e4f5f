import { spawn } from 'node:child_process'
import { renameSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** A child process whose stdout lines are kept and can be waited for. */
export function spawnChild(command: string, args: string[]) {
  const child = spawn(command, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.on('error', () => {})
  const lines: string[] = []
  let [rest, errors] = ['', '']
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    lines.push(...parts.filter(Boolean))
  })
  child.stderr.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString('utf8')).slice(-4096)
  })
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal ?? '')),
  )
  const ended = () => child.exitCode !== null || child.signalCode !== null
  return {
    pid: child.pid ?? 0,
    lines,
    exited,
    ended,
    stderr: () => errors,
    /** Write a line to its stdin. */
    send: (line: string) => child.stdin.write(`${line}\n`),
    kill: (signal: NodeJS.Signals = 'SIGTERM') => ended() || child.kill(signal),
    /** The first stdout line from index `from` that matches; rejects if the process ends first. */
    async line(match: (line: string) => boolean, timeoutMs = 300_000, from = 0): Promise<string> {
      for (const deadline = Date.now() + timeoutMs; ; await new Promise((wake) => setTimeout(wake, 5))) {
        const found = lines.slice(from).find(match)
        if (found !== undefined) return found
        if (ended() || Date.now() > deadline)
          throw new Error(
            `${command} ${ended() ? 'exited' : 'printed no expected line in time'}; stderr: ${errors}`,
          )
      }
    },
  }
}

/** A bench script as its own process, compiled first (no loader in it): its CPU and memory are its own. */
export const spawnScript = (script: string, args: string[], nodeFlags: string[] = []) =>
  spawnChild(process.execPath, [...nodeFlags, compiledScript(script), ...args])

const compiled = new Set<string>()

/** bench/`script` compiled to bench/results/js/ (once per bench process), its packages left to Node. */
export function compiledScript(script: string): string {
  const outfile = join(root, 'bench/results/js', script.replace(/\.ts$/, '.mjs'))
  if (compiled.has(outfile)) return outfile
  const [entryPoints, written] = [[join(root, 'bench', script)], `${outfile}.${process.pid}`]
  buildSync({
    entryPoints,
    outfile: written,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
  })
  renameSync(written, outfile) // A bench running beside this one never starts a half-written file.
  compiled.add(outfile)
  return outfile
}
