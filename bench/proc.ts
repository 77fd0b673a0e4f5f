import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** Linux clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream kernel. */
const TICKS = 100

interface ProcStat {
  ppid: number
  /** utime + stime, seconds. */
  own: number
  /** cutime + cstime: reaped children, seconds. */
  children: number
}

function stat(pid: number): ProcStat | undefined {
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

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  return stat(pid)?.own ?? 0
}

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
  const byParent = new Map<number, number[]>()
  const stats = new Map<number, ProcStat>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    const found = stat(pid)
    if (!found) continue
    stats.set(pid, found)
    const siblings = byParent.get(found.ppid) ?? []
    siblings.push(pid)
    byParent.set(found.ppid, siblings)
  }
  let total = 0
  const stack = [root]
  while (stack.length) {
    const pid = stack.pop() as number
    const found = stats.get(pid)
    if (found) total += found.own + found.children
    stack.push(...(byParent.get(pid) ?? []))
  }
  return total
}

/** Busy, idle and stolen CPU seconds of the whole machine since boot (all cores together). */
export function machineCpu(): { busy: number; idle: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const t = (value: number | undefined) => (value ?? 0) / TICKS
  return {
    busy: t(user) + t(nice) + t(system) + t(irq) + t(softirq),
    idle: t(idle) + t(iowait),
    steal: t(steal),
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
 * Measures CPU over a window: named processes (PIDs may be looked up late, e.g. a walsender that exists
 * only once its reader connected) and, to tell whether the machine was quiet, everything not ours.
 */
export class CpuWindow {
  readonly #start = performance.now()
  readonly #machine = machineCpu()
  readonly #tree = treeCpuSeconds()
  readonly #named = new Map<string, { pid: number; start: number; last: number; tree: boolean }>()

  constructor(processes: Record<string, number> = {}) {
    for (const [name, pid] of Object.entries(processes)) this.track(name, pid)
  }

  /** Start counting a process from now (or from its start, when `fromZero`: it began inside the window). */
  track(name: string, pid: number, fromZero = false): void {
    if (pid <= 0) return
    const start = fromZero ? 0 : cpuSeconds(pid)
    this.#named.set(name, { pid, start, last: start, tree: false })
  }

  /** Count a process and everything under it (e.g. the postmaster: every PostgreSQL process). */
  trackTree(name: string, pid: number): void {
    if (pid <= 0) return
    const start = treeCpuSeconds(pid)
    this.#named.set(name, { pid, start, last: start, tree: true })
  }

  /** Remember each process's CPU so far: a process that ends before {@link stop} keeps what it used. */
  sample(): void {
    for (const entry of this.#named.values())
      entry.last = Math.max(entry.last, entry.tree ? treeCpuSeconds(entry.pid) : cpuSeconds(entry.pid))
  }

  /** CPU seconds each process had used in total when last sampled (not only within the window). */
  totals(): Record<string, number> {
    return Object.fromEntries([...this.#named].map(([name, { last }]) => [name, last]))
  }

  /** The usage so far. */
  stop(): CpuUsage {
    const seconds = (performance.now() - this.#start) / 1000
    const machine = machineCpu()
    const ours = treeCpuSeconds() - this.#tree
    const busy = machine.busy - this.#machine.busy
    const processes: Record<string, number> = {}
    this.sample()
    for (const [name, { start, last }] of this.#named) processes[name] = (last - start) / seconds
    return {
      seconds,
      processes,
      ours: ours / seconds,
      foreign: Math.max(0, busy - ours) / seconds,
      steal: (machine.steal - this.#machine.steal) / seconds,
      cores: cpus().length,
    }
  }
}

/** Samples a process's resident memory every `intervalMs` until stopped. */
export function sampleMemory(
  pid: () => number,
  intervalMs = 100,
): { stop(): Array<{ t: number; rss: number }>; samples: Array<{ t: number; rss: number }> } {
  const started = performance.now()
  const samples: Array<{ t: number; rss: number }> = []
  const take = () => {
    const rss = memory(pid()).rss
    if (rss > 0) samples.push({ t: (performance.now() - started) / 1000, rss })
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    samples,
    stop() {
      clearInterval(timer)
      take()
      return samples
    },
  }
}
