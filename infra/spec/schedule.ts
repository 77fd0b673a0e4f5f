import { type ConfigVariable, RELAY_NODE_OPTIONS } from '@factlib/relay/config'

/**
 * Schedule mode: an EventBridge Scheduler schedule invokes the relay's Lambda function
 * (`@factlib/relay/lambda`, one drain per invocation) every `intervalMinutes`.
 */
export interface ScheduleOptions {
  /**
   * Minutes between drains. @default 15 for a Neon host (longer than Neon's 5-minute suspend delay, so the
   * compute can scale to zero between runs), 5 for any other database (it runs anyway; less lag, less WAL).
   */
  intervalMinutes?: number
  /** The function's timeout: below the interval. @default the interval minus 60 s, at most 900 s */
  timeoutSeconds?: number
  /** The function's memory. @default 512 */
  memoryMiB?: number
}

/** The relay's Lambda function and its schedule, as plain data. */
export interface ScheduleSpec<V = string> {
  /** The function's name: the deployment's name. */
  functionName: string
  intervalMinutes: number
  /** `rate(<n> minutes)`, EventBridge Scheduler's syntax. */
  expression: string
  runtime: 'nodejs22.x'
  architecture: 'arm64'
  /** `index.mjs` of the bundle of `@factlib/relay/lambda`. */
  handler: 'index.handler'
  memoryMiB: number
  timeoutSeconds: number
  /** One drain at a time: a second reader would only find the slot busy. */
  reservedConcurrency: 1
  /** EventBridge invokes asynchronously: no retries by Lambda (the next run is the retry)… */
  maximumRetryAttempts: 0
  /** …and an event that waited this long is dropped, so a late run never runs into the next one. */
  maximumEventAgeSeconds: number
  /** The schedule fires on time: no flexible window. */
  flexibleTimeWindow: 'OFF'
  /** Nor does EventBridge Scheduler retry a failed invocation: the next run is the retry. */
  schedulerRetryPolicy: { maximumRetryAttempts: 0; maximumEventAgeInSeconds: number }
  /**
   * The container's settings without the HTTP port (the function binds none), plus `NODE_OPTIONS` with the
   * relay's heap size (V8 fixes it at start, and the Lambda runtime starts the process); `DATABASE_URL` is
   * added by the front-end.
   */
  environment: Partial<Record<ConfigVariable | 'NODE_OPTIONS', string | V>>
}

/** Neon suspends an idle compute after this many minutes by default. */
export const NEON_SUSPEND_MINUTES = 5
/** Neon removes replication slots inactive for about 40 hours; a schedule stays well inside that. */
export const MAX_INTERVAL_MINUTES = 20 * 60
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900

/** A Neon endpoint host, e.g. `ep-cool-darkness-123456.eu-central-1.aws.neon.tech`. */
export function isNeonHost(host: string | undefined): boolean {
  return host !== undefined && /(^|\.)neon\.tech$/i.test(host.trim())
}

/** Refuse a Neon pooler host (`ep-…-pooler.…neon.tech`): replication needs the direct host. */
export function checkDatabaseHost(databaseHost: string | undefined): void {
  if (databaseHost && /-pooler\./i.test(databaseHost))
    throw new Error(
      `databaseHost ${databaseHost}: a pooler cannot carry a replication connection; use the direct host (${databaseHost.replace(/-pooler\./i, '.')})`,
    )
}

/** The default interval for a database: see {@link ScheduleOptions.intervalMinutes}. */
export function defaultIntervalMinutes(databaseHost: string | undefined): number {
  return isNeonHost(databaseHost) ? 15 : 5
}

/** Build and check the schedule; every refusal says why. */
export function scheduleSpec<V>(
  functionName: string,
  options: ScheduleOptions | undefined,
  databaseHost: string | undefined,
  environment: Partial<Record<ConfigVariable, string | V>>,
): ScheduleSpec<V> {
  const neon = isNeonHost(databaseHost)
  const intervalMinutes = options?.intervalMinutes ?? defaultIntervalMinutes(databaseHost)
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < 2)
    throw new Error(
      `schedule.intervalMinutes ${intervalMinutes}: expected a whole number of minutes, at least 2`,
    )
  if (intervalMinutes > MAX_INTERVAL_MINUTES)
    throw new Error(
      `schedule.intervalMinutes ${intervalMinutes}: at most ${MAX_INTERVAL_MINUTES} (20 hours). Neon removes a replication slot that stays inactive for about 40 hours, and every database keeps the WAL of the whole interval; one failed run doubles the gap`,
    )
  if (neon && intervalMinutes <= NEON_SUSPEND_MINUTES)
    throw new Error(
      `schedule.intervalMinutes ${intervalMinutes}: ${databaseHost} is a Neon host, and Neon suspends a compute only after ${NEON_SUSPEND_MINUTES} idle minutes, so a drain every ${intervalMinutes} minutes keeps it awake for ever (an always-on compute). Use more than ${NEON_SUSPEND_MINUTES} (the default is 15), or service mode if the application keeps the compute awake anyway`,
    )
  const intervalSeconds = intervalMinutes * 60
  const timeoutSeconds = options?.timeoutSeconds ?? Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, intervalSeconds - 60)
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10 || timeoutSeconds > LAMBDA_MAX_TIMEOUT_SECONDS)
    throw new Error(
      `schedule.timeoutSeconds ${timeoutSeconds}: expected an integer from 10 to 900 (Lambda's limit)`,
    )
  if (timeoutSeconds >= intervalSeconds)
    throw new Error(
      `schedule.timeoutSeconds ${timeoutSeconds}: must be below the interval (${intervalSeconds} s), or a run would still hold the slot when the next one starts`,
    )
  const memoryMiB = options?.memoryMiB ?? 512
  if (!Number.isInteger(memoryMiB) || memoryMiB < 128 || memoryMiB > 10_240)
    throw new Error(`schedule.memoryMiB ${memoryMiB}: expected an integer from 128 to 10240`)

  // Lambda accepts 60 to 21600 s. A run that starts this late still ends before the next one is due.
  const maximumEventAgeSeconds = Math.min(21_600, Math.max(60, intervalSeconds - timeoutSeconds))
  const { FACTLIB_HTTP_PORT: _port, ...functionEnvironment } = environment
  return {
    functionName,
    intervalMinutes,
    expression: `rate(${intervalMinutes} minutes)`,
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    handler: 'index.handler',
    memoryMiB,
    timeoutSeconds,
    reservedConcurrency: 1,
    maximumRetryAttempts: 0,
    maximumEventAgeSeconds,
    flexibleTimeWindow: 'OFF',
    schedulerRetryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: maximumEventAgeSeconds },
    environment: { ...functionEnvironment, NODE_OPTIONS: RELAY_NODE_OPTIONS },
  }
}
