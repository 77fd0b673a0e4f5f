// CPU and memory of processes and of the machine, read from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** Linux clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream kernel. */
const TICKS = 100
const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return '' // The process ended while we looked.
  }
}

/** A process's parent and its CPU seconds (user + system, all threads), its own and its reaped children's. */
function stat(pid: number) {
  const text = read(`/proc/${pid}/stat`)
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  const field = (n: number) => fields[n - 3] ?? 0
  return { ppid: field(4), own: (field(14) + field(15)) / TICKS, children: (field(16) + field(17)) / TICKS }
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
export const cpuSeconds = (pid: number): number => stat(pid).own

/** Resident bytes now, at the peak so far, and in mapped files (Node's binary, libraries: clean pages). */
export function memory(pid: number): { rss: number; peak: number; files: number } {
  const status = read(`/proc/${pid}/status`)
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM'), files: kb('RssFile') }
}

/** CPU seconds used by `root` and every process under it, including children already reaped. */
function treeCpuSeconds(root = process.pid): number {
  const stats = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => ({ pid: Number(entry), ...stat(Number(entry)) }))
  let total = 0
  for (let pids = [root]; pids.length; pids = stats.filter((s) => pids.includes(s.ppid)).map((s) => s.pid))
    for (const s of stats.filter((candidate) => pids.includes(candidate.pid))) total += s.own + s.children
  return total
}

/** Busy and stolen CPU seconds of the whole machine since boot (all cores together). */
function machineCpu(): { busy: number; steal: number } {
  const line = read('/proc/stat').split('\n')[0] ?? ''
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .split(/\s+/)
    .slice(1)
    .map((ticks) => Number(ticks) / TICKS)
  return { busy: user + nice + system + irq + softirq, steal }
}

/** CPU over a window in cores: named processes, this run's process tree, the rest of the machine, steal. */
export type CpuUsage = { seconds: number; processes: Record<string, number> } & Record<Usage, number>
type Usage = 'ours' | 'foreign' | 'steal' | 'cores'

/** Every window measured in this process so far: was the machine quiet while they ran? */
export const measuredWindows: CpuUsage[] = []

/**
 * CPU of named processes or process trees (`{ tree: pid }`) over a window; one that ends inside it keeps what
 * it used when last sampled (every `sampleMs`, or at each `sample()`).
 */
export class CpuWindow {
  readonly #start = { at: performance.now(), machine: machineCpu(), ours: treeCpuSeconds() }
  readonly #named = new Map<string, { read: () => number; start: number; last: number }>()
  readonly #timer

  constructor(processes: Record<string, number | { tree: number }>, sampleMs?: number) {
    for (const [name, pid] of Object.entries(processes)) {
      const read = typeof pid === 'number' ? () => cpuSeconds(pid) : () => treeCpuSeconds(pid.tree)
      if (typeof pid !== 'number' || pid > 0) this.#named.set(name, { read, start: read(), last: read() })
    }
    this.#timer = sampleMs ? setInterval(() => this.sample(), sampleMs).unref() : undefined
  }

  sample(): void {
    for (const entry of this.#named.values()) entry.last = Math.max(entry.last, entry.read())
  }

  /** CPU seconds each process had used in total when last sampled (not only within the window). */
  totals(): Record<string, number> {
    return Object.fromEntries([...this.#named].map(([name, { last }]) => [name, last]))
  }

  stop(): CpuUsage {
    clearInterval(this.#timer)
    this.sample()
    const seconds = (performance.now() - this.#start.at) / 1000
    const [machine, ours] = [machineCpu(), treeCpuSeconds() - this.#start.ours]
    const processes = Object.fromEntries(
      [...this.#named].map(([name, e]) => [name, (e.last - e.start) / seconds]),
    )
    const foreign = Math.max(0, machine.busy - this.#start.machine.busy - ours) / seconds
    const steal = (machine.steal - this.#start.machine.steal) / seconds
    const usage = { seconds, processes, ours: ours / seconds, foreign, steal, cores: cpus().length }
    measuredWindows.push(usage)
    return usage
  }
}
