import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, hostname, loadavg, release, totalmem } from 'node:os'
import type { CpuUsage } from './proc.js'
import { PG_RECVLOGICAL } from './readers.js'
import { javaVersion, KAFKA_PROPERTIES, POSTGRES_SETTINGS, type Services } from './services.js'
import { quantile } from './stats.js'

/** What the figures were measured on. */
export interface MachineStamp {
  date: string
  host: string
  cpu: string
  cores: number
  memoryBytes: number
  kernel: string
  /** Whether the machine is a virtual one, from /proc/cpuinfo's hypervisor flag. */
  virtual: boolean
  node: string
  postgres: string
  kafka: string
  java: string
  pgRecvlogical: string
  postgresSettings: Record<string, string | number>
  kafkaJvmOptions: string[]
  kafkaProperties: Record<string, string | number>
  /** 1-minute load average when the run started and when it ended. */
  loadAverage: { start: number; end?: number }
}

export function machineStamp(services: Services): MachineStamp {
  const info = cpus()
  let virtual = false
  try {
    virtual = / hypervisor /.test(readFileSync('/proc/cpuinfo', 'utf8'))
  } catch {
    // Not Linux: unknown.
  }
  const recvlogical = spawnSync(PG_RECVLOGICAL, ['--version'], { encoding: 'utf8' })
  return {
    date: new Date().toISOString(),
    host: hostname(),
    cpu: info[0]?.model.trim() ?? 'unknown',
    cores: info.length,
    memoryBytes: totalmem(),
    kernel: `${process.platform} ${release()}`,
    virtual,
    node: process.version,
    postgres: services.postgresVersion,
    kafka: services.kafka.version,
    java: javaVersion(),
    pgRecvlogical: recvlogical.stdout?.trim() || 'not found',
    postgresSettings: POSTGRES_SETTINGS,
    kafkaJvmOptions: services.kafkaJvmOptions,
    kafkaProperties: KAFKA_PROPERTIES,
    loadAverage: { start: loadavg()[0] ?? 0 },
  }
}

/** How busy the machine was with work that was not ours, over every measured window of a run. */
export interface Noise {
  windows: number
  /** Cores used by other processes: median and the worst window. */
  foreignMedian: number
  foreignMax: number
  /** Cores the hypervisor took: median and the worst window. */
  stealMedian: number
  /** Repeats whose spread (max − min over median) exceeded 10 %, of all figures with repeats. */
  wideSpreads: number
  spreads: number
  quiet: boolean
  verdict: string
}

/**
 * Quiet means: in the median window other processes and the hypervisor together took under 5 % of the
 * machine, in the worst under 15 %, and at most one figure in ten spread more than 10 % over its repeats.
 */
export function assessNoise(windows: CpuUsage[], spreadsPct: number[]): Noise {
  const cores = windows[0]?.cores ?? cpus().length
  const foreign = windows.map((window) => window.foreign).sort((a, b) => a - b)
  const steal = windows.map((window) => window.steal).sort((a, b) => a - b)
  const foreignMedian = quantile(foreign, 0.5) || 0
  const foreignMax = foreign[foreign.length - 1] ?? 0
  const stealMedian = quantile(steal, 0.5) || 0
  const wideSpreads = spreadsPct.filter((spread) => spread > 10).length
  const busy: string[] = []
  if (foreignMedian + stealMedian > 0.05 * cores)
    busy.push(
      `other processes used ${foreignMedian.toFixed(2)} of ${cores} cores in the median measured window` +
        (stealMedian > 0.01 ? ` and the hypervisor took ${stealMedian.toFixed(2)}` : ''),
    )
  if (foreignMax > 0.15 * cores) busy.push(`up to ${foreignMax.toFixed(2)} cores in the worst window`)
  const spread = `${wideSpreads} of ${spreadsPct.length} repeated figures spread more than 10 %`
  const variable = spreadsPct.length > 0 && wideSpreads > spreadsPct.length / 10
  const quiet = busy.length === 0 && !variable
  const others = `other processes used ${foreignMedian.toFixed(2)} of ${cores} cores in the median window, at most ${foreignMax.toFixed(2)}`
  // A busy machine says rerun; an idle one whose repeats still differ will differ again on a rerun, so the
  // advice there is to read medians and side-by-side ratios.
  const verdict = busy.length
    ? `TOO NOISY to trust absolute figures: ${[...busy, ...(variable ? [spread] : [])].join('; ')}. Ratios measured side by side suffer less, but rerun on a quiet machine.`
    : variable
      ? `VARIABLE: the machine was otherwise idle (${others}), yet ${spread} from one repeat to the next, ` +
        'the variance of the machine itself. Read medians and the side-by-side ratios, not single repeats.'
      : `quiet: ${others}; ${spread}`
  return {
    windows: windows.length,
    foreignMedian,
    foreignMax,
    stealMedian,
    wideSpreads,
    spreads: spreadsPct.length,
    quiet,
    verdict,
  }
}
