import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** Linux clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream kernel. */
const TICKS = 100

/** A process's parent, its own CPU seconds (user + system, all threads) and those of its reaped children. */
function stat(pid: number): { ppid: number; own: number; children: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    const field = (n: number) => Number(fields[n - 3])
    return { ppid: field(4), own: (field(14) + field(15)) / TICKS, children: (field(16) + field(17)) / TICKS }
  } catch {
    return undefined
  }
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
export const cpuSeconds = (pid: number): number => stat(pid)?.own ?? 0

/** Resident memory of a process in bytes: now (`VmRSS`) and its peak so far (`VmHWM`). */
export function memory(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
    return { rss: kb('VmRSS'), peak: kb('VmHWM') }
  } catch {
    return { rss: 0, peak: 0 }
  }
}

/** CPU seconds used by `root` and every process under it, including children already reaped. */
export function treeCpuSeconds(root = process.pid): number {
  const children = new Map<number, number[]>()
  const stats = new Map<number, NonNullable<ReturnType<typeof stat>>>()
  for (const entry of readdirSync('/proc')) {
    const found = /^\d+$/.test(entry) ? stat(Number(entry)) : undefined
    if (!found) continue
    stats.set(Number(entry), found)
    children.set(found.ppid, [...(children.get(found.ppid) ?? []), Number(entry)])
  }
  let total = 0
  const stack = [root]
  for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
    const found = stats.get(pid)
    if (found) total += found.own + found.children
    stack.push(...(children.get(pid) ?? []))
  }
  return total
}

/** Busy and stolen CPU seconds of the whole machine since boot (all cores together). */
function machineCpu(): { busy: number; steal: number } {
  const [user, nice, system, , , irq, softirq, steal] = (
    readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  )
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((ticks) => Number(ticks) / TICKS)
  const busy = [user, nice, system, irq, softirq].reduce<number>((sum, value) => sum + (value ?? 0), 0)
  return { busy, steal: steal ?? 0 }
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
  readonly #start = performance.now()
  readonly #machine = machineCpu()
  readonly #tree = treeCpuSeconds()
  readonly #named = new Map<string, { read: () => number; start: number; last: number }>()

  constructor(processes: Record<string, number> = {}) {
    for (const [name, pid] of Object.entries(processes)) this.track(name, () => cpuSeconds(pid), pid)
  }

  /** Count a process and everything under it (e.g. the postmaster: every PostgreSQL process). */
  trackTree(name: string, pid: number): void {
    this.track(name, () => treeCpuSeconds(pid), pid)
  }

  private track(name: string, read: () => number, pid: number): void {
    if (pid <= 0) return
    const start = read()
    this.#named.set(name, { read, start, last: start })
  }

  sample(): void {
    for (const entry of this.#named.values()) entry.last = Math.max(entry.last, entry.read())
  }

  /** CPU seconds each process had used in total when last sampled (not only within the window). */
  totals(): Record<string, number> {
    return Object.fromEntries([...this.#named].map(([name, { last }]) => [name, last]))
  }

  stop(): CpuUsage {
    const seconds = (performance.now() - this.#start) / 1000
    const machine = machineCpu()
    const ours = treeCpuSeconds() - this.#tree
    this.sample()
    const processes: Record<string, number> = {}
    for (const [name, { start, last }] of this.#named) processes[name] = (last - start) / seconds
    return {
      seconds,
      processes,
      ours: ours / seconds,
      foreign: Math.max(0, machine.busy - this.#machine.busy - ours) / seconds,
      steal: (machine.steal - this.#machine.steal) / seconds,
      cores: cpus().length,
    }
  }
}
