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

/** Resident memory of a process in bytes: now (`VmRSS`) and its peak so far (`VmHWM`). */
export function memory(pid: number): { rss: number; peak: number } {
  const status = read(`/proc/${pid}/status`)
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

/** CPU seconds used by `root` and every process under it, including children already reaped. */
export function treeCpuSeconds(root = process.pid): number {
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
  const [user, nice, system, , , irq, softirq, steal] = (read('/proc/stat').split('\n')[0] ?? '')
    .split(/\s+/)
    .slice(1)
    .map((ticks) => Number(ticks) / TICKS)
  return {
    busy: [user, nice, system, irq, softirq].reduce<number>((sum, v) => sum + (v ?? 0), 0),
    steal: steal ?? 0,
  }
}

/** CPU used during a window, in cores (1 = one core busy for the whole window). */
export interface CpuUsage {
  seconds: number
  /** Each named process. */
  processes: Record<string, number>
  /** Every process of this benchmark run (this process and everything it started). */
  ours: number
  /** Busy CPU of processes outside this run: other work on the machine. */
  foreign: number
  /** Time the hypervisor gave our virtual CPUs to someone else. */
  steal: number
  cores: number
}

/**
 * Measures CPU over a window: named processes (a process that ends inside the window keeps what it used
 * when last sampled) and, to tell whether the machine was quiet, everything not ours.
 */
export class CpuWindow {
  readonly #start = { at: performance.now(), machine: machineCpu(), ours: treeCpuSeconds() }
  readonly #named = new Map<string, { read: () => number; start: number; last: number }>()

  constructor(processes: Record<string, number> = {}, trees: Record<string, number> = {}) {
    const track = (name: string, read: () => number) =>
      this.#named.set(name, { read, start: read(), last: read() })
    for (const [name, pid] of Object.entries(processes)) if (pid > 0) track(name, () => cpuSeconds(pid))
    for (const [name, pid] of Object.entries(trees)) if (pid > 0) track(name, () => treeCpuSeconds(pid))
  }

  sample(): void {
    for (const entry of this.#named.values()) entry.last = Math.max(entry.last, entry.read())
  }

  /** CPU seconds each process had used in total when last sampled (not only within the window). */
  totals(): Record<string, number> {
    return Object.fromEntries([...this.#named].map(([name, { last }]) => [name, last]))
  }

  stop(): CpuUsage {
    this.sample()
    const seconds = (performance.now() - this.#start.at) / 1000
    const [machine, ours] = [machineCpu(), treeCpuSeconds() - this.#start.ours]
    const processes = Object.fromEntries(
      [...this.#named].map(([name, e]) => [name, (e.last - e.start) / seconds]),
    )
    const foreign = Math.max(0, machine.busy - this.#start.machine.busy - ours) / seconds
    const steal = (machine.steal - this.#start.machine.steal) / seconds
    return { seconds, processes, ours: ours / seconds, foreign, steal, cores: cpus().length }
  }
}
