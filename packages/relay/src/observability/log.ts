/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * The relay's logger: one JSON object per line, never `console.error`. `child` adds fields to every line
 * it writes, e.g. `logger.child({ component: 'kafka-sink' })`.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  child(fields: Record<string, unknown>): Logger
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** Where lines go. @default process.stderr */
  stream?: { write(line: string): unknown }
  /** Lines below this level are dropped. @default 'info' */
  level?: LogLevel
  /** Fields on every line. */
  fields?: Record<string, unknown>
  /** @default () => new Date() */
  now?: () => Date
}

/**
 * A logger writing JSON lines: `{"time","level","msg",...fields}`. Errors in fields are written as
 * `{name, message, code, stack}`, bigints and byte arrays as strings.
 *
 * @example
 * ```ts
 * const logger = jsonLogger({ level: 'debug' }).child({ component: 'relay' })
 * logger.info('streaming', { slot: 'factlib' })
 * // {"time":"2025-01-01T00:00:00.000Z","level":"info","msg":"streaming","component":"relay","slot":"factlib"}
 * ```
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr
  const threshold = LEVELS[options.level ?? 'info']
  const now = options.now ?? (() => new Date())
  const make = (bound: Record<string, unknown>): Logger => {
    const write = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < threshold) return
      const line = { time: now().toISOString(), level, msg: message, ...bound, ...fields }
      stream.write(`${JSON.stringify(line, replacer)}\n`)
    }
    return {
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      child: (fields) => make({ ...bound, ...fields }),
    }
  }
  return make(options.fields ?? {})
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { code, retriable, type, cause } = value as Error & Record<string, unknown>
    return {
      name: value.name,
      message: value.message,
      ...(code === undefined ? {} : { code }),
      ...(type === undefined ? {} : { type }),
      ...(retriable === undefined ? {} : { retriable }),
      ...(cause === undefined ? {} : { cause }),
      stack: value.stack,
    }
  }
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  return value
}
