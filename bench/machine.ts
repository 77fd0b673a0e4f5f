import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, hostname, loadavg, release, totalmem } from 'node:os'
import { PG_RECVLOGICAL } from './drain.js'
import type { CpuUsage } from './proc.js'
import { RELAY_CLI } from './relay-process.js'
import {
  javaVersion,
  KAFKA_JVM_OPTIONS,
  KAFKA_PROPERTIES,
  POSTGRES_SETTINGS,
  type Services,
} from './services.js'
import { quantile } from './stats.js'

/** What the figures were measured on. */
export function machineStamp(services: Services) {
  return {
    date: new Date().toISOString(),
    host: hostname(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: `${process.platform} ${release()}`,
    virtual: / hypervisor /.test(readFileSync('/proc/cpuinfo', 'utf8')),
    node: process.version,
    postgres: services.postgresVersion,
    kafka: services.kafka.version,
    java: javaVersion(),
    pgRecvlogical:
      spawnSync(PG_RECVLOGICAL, ['--version'], { encoding: 'utf8' }).stdout?.trim() || 'not found',
    relay: RELAY_CLI,
    postgresSettings: POSTGRES_SETTINGS,
    kafkaJvmOptions: KAFKA_JVM_OPTIONS,
    kafkaProperties: KAFKA_PROPERTIES,
    /** 1-minute load average when the run started and when it ended. */
    loadAverage: { start: loadavg()[0] ?? 0, end: Number.NaN },
  }
}

export type MachineStamp = ReturnType<typeof machineStamp>

/**
 * How busy the machine was with work not ours, over every measured window of a run. Quiet means: in the
 * median window other processes and the hypervisor together took under 5 % of the machine, in the worst
 * under 15 %, and at most one repeated figure in ten spread more than 10 %.
 */
export function assessNoise(windows: CpuUsage[], spreadsPct: number[]) {
  const cores = windows[0]?.cores ?? cpus().length
  const foreign = windows.map((window) => window.foreign).sort((a, b) => a - b)
  const foreignMedian = quantile(foreign, 0.5) || 0
  const foreignMax = foreign.at(-1) ?? 0
  const stealMedian =
    quantile(
      windows.map((window) => window.steal).sort((a, b) => a - b),
      0.5,
    ) || 0
  const wideSpreads = spreadsPct.filter((spread) => spread > 10).length
  const busy = [
    ...(foreignMedian + stealMedian > 0.05 * cores
      ? [`other processes used ${foreignMedian.toFixed(2)} of ${cores} cores in the median measured window`]
      : []),
    ...(stealMedian > 0.01 ? [`the hypervisor took ${stealMedian.toFixed(2)}`] : []),
    ...(foreignMax > 0.15 * cores ? [`up to ${foreignMax.toFixed(2)} cores in the worst window`] : []),
  ]
  const spread = `${wideSpreads} of ${spreadsPct.length} repeated figures spread more than 10 %`
  const variable = spreadsPct.length > 0 && wideSpreads > spreadsPct.length / 10
  const others = `other processes used ${foreignMedian.toFixed(2)} of ${cores} cores in the median window, at most ${foreignMax.toFixed(2)}`
  // A busy machine says rerun; an idle one whose repeats still differ will differ again on a rerun.
  const verdict = busy.length
    ? `TOO NOISY to trust absolute figures: ${[...busy, ...(variable ? [spread] : [])].join('; ')}. Ratios measured side by side suffer less, but rerun on a quiet machine.`
    : variable
      ? `VARIABLE: the machine was otherwise idle (${others}), yet ${spread}. Read medians and side-by-side ratios, not single repeats.`
      : `quiet: ${others}; ${spread}`
  return {
    windows: windows.length,
    foreignMedian,
    foreignMax,
    stealMedian,
    wideSpreads,
    spreads: spreadsPct.length,
    verdict,
  }
}

export type Noise = ReturnType<typeof assessNoise>
