// A PostgreSQL server run as a child process of the test, from the embedded package's binaries or an older
// release's (older-postgres.ts): the primary and standby of standby.ts, and the older releases' servers.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { arch, platform, userInfo } from 'node:os'
import { join } from 'node:path'
import { EMBEDDED_PASSWORD, EMBEDDED_USER, type EmbeddedPostgres } from '@factlib/dev/embedded-postgres'
import { withClient } from './postgres.js'
import { waitFor } from './wait.js'

/**
 * One server run by {@link runPostgres}: a development server's members but `start` (`stop` sends SIGKILL
 * after 10 s), and what tests need besides.
 */
export interface PostgresServer extends Omit<EmbeddedPostgres, 'start'> {
  /** SIGKILL to the postmaster (the PID in `postmaster.pid`), as a host that dies; resolves once it exited. */
  crash(): Promise<void>
  /** Its last log lines, for a failure's message. */
  logs(): string[]
  /** Resolves once it started to accept connections; rejects, with its last words, if it exits first. */
  accepting(what: string): Promise<void>
}

// What the embedded package starts a development server with, and what tests add (see postgres.ts).
export const BASE_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  max_replication_slots: 32,
  max_wal_senders: 32,
  max_connections: 100,
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  full_page_writes: 'off',
  // TCP only: these servers are killed with SIGKILL, which leaves a socket lock file in /tmp behind.
  unix_socket_directories: '',
}

/**
 * Run `postgres` of `bin` (an older release's binaries; the embedded package's when undefined) on
 * `dataDir`, as the `postgres` system user when the tests run as root. A test worker that is killed or times
 * out takes the server with it.
 */
export async function runPostgres(
  dataDir: string,
  port: number,
  bin: string | undefined,
  settings: Record<string, string | number>,
): Promise<PostgresServer> {
  const embedded = async () =>
    ((await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string }).postgres
  const args = ['-D', dataDir, '-p', String(port)]
  for (const [key, value] of Object.entries(settings)) args.push('-c', `${key}=${value}`)
  const child: ChildProcess = spawn(bin ? join(bin, 'postgres') : await embedded(), args, {
    ...postgresUser(),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  })
  const recent: string[] = []
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    recent.push(...chunk.split('\n').filter(Boolean))
    recent.splice(0, Math.max(0, recent.length - 60))
  })
  const killOnExit = () => child.kill('SIGQUIT')
  process.once('exit', killOnExit)
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`could not start: ${error.message}`))
    child.once('exit', (code, signal) => resolve(`exited (${code ?? signal})`))
  }).then((why) => {
    process.removeListener('exit', killOnExit)
    return why
  })
  const running = () => child.exitCode === null && child.signalCode === null
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`
  return {
    url,
    port,
    dataDir,
    logs: () => [...recent],
    async crash() {
      const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      process.kill(pid, 'SIGKILL')
      await exited
    },
    async stop() {
      if (running()) {
        child.kill('SIGINT')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
    },
    async accepting(what) {
      const accepts = waitFor(
        what,
        () => withClient(url, (client) => client.query('select 1')).then(() => true),
        { timeoutMs: 30_000, intervalMs: 50 },
      )
      const died = exited.then((why) => {
        throw new Error(`${what}: the server ${why}:\n  ${recent.slice(-12).join('\n  ')}`)
      })
      // Handled by the race; a stop after a good start also settles it.
      died.catch(() => {})
      await Promise.race([accepts, died])
    },
  }
}

/** As root, the ids of the `postgres` system user the servers run as (they refuse root); nothing otherwise. */
export function postgresUser(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {}
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, EMBEDDED_USER], { encoding: 'utf8', stdio: 'pipe' }).trim())
    } catch {
      throw new Error(
        "running as root, PostgreSQL needs a `postgres` system user and there is none: the run's embedded " +
          'server creates it (unset FACTLIB_TEST_DATABASE_URL), or run the tests as another user',
      )
    }
  }
  return { uid: id('-u'), gid: id('-g') }
}
