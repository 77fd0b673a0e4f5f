// A primary and a streaming standby, two real PostgreSQL servers from the embedded package, following the
// verified steps of /work/shared/notes/streaming-standby.md: the package has no pg_basebackup, so the standby
// is a copy of the stopped primary's data directory, without the copied slots.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  EMBEDDED_PASSWORD,
  EMBEDDED_USER,
  freePort,
  startEmbeddedPostgres,
} from '@factlib/dev/embedded-postgres'
import { onTestFinished } from 'vitest'
import { initOlderCluster, type OlderRelease, olderReleaseBinaries } from './older-postgres.js'
import { withClient } from './postgres.js'
import { startTcpProxy } from './tcp-proxy.js'
import { waitFor } from './wait.js'

const execFileAsync = promisify(execFile)

/** One server of a {@link ReplicaPair}, run as a child process of the test. */
export interface ReplicaServer {
  /** Superuser URL of its `postgres` database. */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** SIGKILL to the postmaster (the PID in `postmaster.pid`), as a host that dies; resolves once it exited. */
  crash(): Promise<void>
  /** Its last log lines, for a failure's message. */
  logs(): string[]
}

export interface ReplicaPair {
  primary: ReplicaServer
  standby: ReplicaServer
  /** The physical slot on the primary the standby streams through (`primary_slot_name`). */
  physicalSlot: string
  /** Stop both servers (those still running) and remove their data. */
  destroy(): Promise<void>
}

/**
 * Start a primary and a streaming standby that synchronizes failover slots (`sync_replication_slots`,
 * `hot_standby_feedback`, `primary_slot_name`, a `dbname` in `primary_conninfo`). The primary names the
 * standby's physical slot in `synchronized_standby_slots`; with `synchronous`, it also waits for the standby
 * before acknowledging a commit, so what a writer saw committed is on the standby. Resolves once the standby
 * streams.
 */
export async function startReplicaPair(
  options: { synchronous?: boolean; release?: OlderRelease } = {},
): Promise<ReplicaPair> {
  const { release } = options
  // Failover slots (sync_replication_slots, synchronized_standby_slots) came with 17: older servers refuse
  // those settings.
  const failoverSlots = release === undefined
  const root = await mkdtemp(join(tmpdir(), 'factlib-pair-'))
  // mkdtemp makes a 0700 folder; as root the servers run as `postgres`, which must pass through it.
  await chmod(root, 0o755)
  const servers: RunningServer[] = []
  const destroy = async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await rm(root, { recursive: true, force: true })
  }
  try {
    const physicalSlot = 'standby_1'
    const primaryDir = join(root, 'primary')
    const standbyDir = join(root, 'standby')
    // initdb (and, as root, the `postgres` user) through the package, or an older release's own, then a
    // slot for the standby.
    const initial = release === undefined ? undefined : await startOlder(release, root, primaryDir)
    const first = initial ?? (await startEmbeddedPostgres({ dataDir: primaryDir, settings: BASE_SETTINGS }))
    await withClient(first.url, (client) =>
      client.query('select pg_create_physical_replication_slot($1, true)', [physicalSlot]),
    )
    await first.stop()
    const bin = initial?.bin
    // `cp -a` keeps modes and the `postgres` owner the server insists on.
    await execFileAsync('cp', ['-a', primaryDir, standbyDir])
    // A logical slot copied along blocks its synchronization later ("same name slot already exists").
    for (const entry of await readdir(join(standbyDir, 'pg_replslot')))
      await rm(join(standbyDir, 'pg_replslot', entry), { recursive: true, force: true })
    const signal = join(standbyDir, 'standby.signal')
    await writeFile(signal, '')
    const owner = await postgresUser()
    if (owner.uid !== undefined && owner.gid !== undefined) await chown(signal, owner.uid, owner.gid)

    const primary = await runServer(primaryDir, first.port, bin, {
      ...BASE_SETTINGS,
      ...(failoverSlots ? { synchronized_standby_slots: physicalSlot } : {}),
      ...(options.synchronous ? { synchronous_standby_names: physicalSlot } : {}),
    })
    servers.push(primary)
    await waitFor('the primary to accept connections', () =>
      withClient(primary.url, (client) => client.query('select 1')).then(() => true),
    )
    const standby = await runServer(standbyDir, await freePort(), bin, {
      ...BASE_SETTINGS,
      primary_conninfo:
        `host=127.0.0.1 port=${primary.port} user=${EMBEDDED_USER} password=${EMBEDDED_PASSWORD} ` +
        `dbname=postgres application_name=${physicalSlot}`,
      primary_slot_name: physicalSlot,
      hot_standby_feedback: 'on',
      ...(failoverSlots ? { sync_replication_slots: 'on' } : {}),
    })
    servers.push(standby)
    // A standby never logs "ready to accept connections" (it accepts read-only ones): poll it instead.
    await waitFor(
      'the standby to stream from the primary',
      () =>
        withClient(primary.url, async (client) => {
          const { rows } = await client.query<{ state: string; sync_state: string }>(
            'select state, sync_state from pg_stat_replication where application_name = $1',
            [physicalSlot],
          )
          const row = rows[0]
          return row?.state === 'streaming' && (!options.synchronous || row.sync_state === 'sync')
        }),
      { timeoutMs: 30_000, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\nstandby log:\n  ${standby.logs().join('\n  ')}`,
      )
    })
    return { primary, standby, physicalSlot, destroy }
  } catch (error) {
    await destroy()
    throw error
  }
}

/**
 * A replica pair for one test, stopped when it finishes, with a TCP proxy in front of the primary: `endpoint`
 * is the URL relays and writers use, as they would a DNS name, and `failOver()` kills the primary, promotes
 * the standby and points the proxy at it.
 */
export async function pairBehindProxy(options: Parameters<typeof startReplicaPair>[0] = {}) {
  const pair = await startReplicaPair(options)
  onTestFinished(() => pair.destroy())
  const proxy = await startTcpProxy(pair.primary.port)
  onTestFinished(() => proxy.close())
  const endpoint = pair.primary.url.replace(`:${pair.primary.port}/`, `:${proxy.port}/`)
  const failOver = async () => {
    await pair.primary.crash()
    await promote(pair.standby.url)
    proxy.switchTo(pair.standby.port)
  }
  return { ...pair, proxy, endpoint, failOver }
}

/** Wait until the standby holds the slot as a synchronized copy that a promotion keeps (not temporary). */
export async function waitForSyncedSlot(standbyUrl: string, slot: string, timeoutMs = 30_000): Promise<void> {
  await withClient(standbyUrl, (client) =>
    waitFor(
      `slot ${slot} synced and not temporary on the standby`,
      async () => {
        // The worker copies the slot within seconds, as temporary until the primary's slot has moved past
        // the standby's position. (pg_sync_replication_slots() cannot help: with the worker running it fails,
        // "cannot synchronize replication slots concurrently".)
        const { rows } = await client.query<{ synced: boolean; temporary: boolean }>(
          'select synced, temporary from pg_replication_slots where slot_name = $1',
          [slot],
        )
        return rows[0]?.synced === true && rows[0].temporary === false
      },
      { timeoutMs, intervalMs: 200 },
    ),
  )
}

/** Promote a standby and wait until it accepts writes (`pg_promote(true, 30)`). */
export async function promote(standbyUrl: string): Promise<void> {
  await withClient(standbyUrl, async (client) => {
    const { rows } = await client.query<{ promoted: boolean }>('select pg_promote(true, 30) as promoted')
    if (!rows[0]?.promoted) throw new Error('pg_promote did not finish within 30 s')
  })
}

interface RunningServer extends ReplicaServer {
  stop(): Promise<void>
}

// What the embedded package starts a development server with, and what tests add (see postgres.ts).
const BASE_SETTINGS: Record<string, string | number> = {
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

/** `postgres` of `bin` (an older release's binaries), or of the embedded package. */
async function runServer(
  dataDir: string,
  port: number,
  bin: string | undefined,
  settings: Record<string, string | number>,
): Promise<RunningServer> {
  const embedded = async () =>
    ((await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string }).postgres
  const child: ChildProcess = spawn(
    bin ? join(bin, 'postgres') : await embedded(),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    ],
    {
      ...(await postgresUser()),
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  )
  const recent: string[] = []
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    recent.push(...chunk.split('\n').filter(Boolean))
    recent.splice(0, Math.max(0, recent.length - 60))
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    url: `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    logs: () => [...recent],
    async crash() {
      const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      process.kill(pid, 'SIGKILL')
      await exited
    },
    async stop() {
      if (!running()) return
      child.kill('SIGINT')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** As root the servers run as the `postgres` user the embedded package created. */
async function postgresUser(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {}
  const id = async (flag: string) => Number((await execFileAsync('id', [flag, EMBEDDED_USER])).stdout.trim())
  return { uid: await id('-u'), gid: await id('-g') }
}

/** An older release's first start on `dataDir` (made by its initdb), in `root`, which its user must write. */
async function startOlder(release: OlderRelease, root: string, dataDir: string) {
  const owner = await postgresUser()
  if (owner.uid !== undefined && owner.gid !== undefined) await chown(root, owner.uid, owner.gid)
  await initOlderCluster(release, dataDir)
  const found = await olderReleaseBinaries(release)
  if ('missing' in found) throw new Error(found.missing)
  const port = await freePort()
  const server = await runServer(dataDir, port, found.bin, BASE_SETTINGS)
  await waitFor(`PostgreSQL ${release} to accept connections`, () =>
    withClient(server.url, (client) => client.query('select 1')).then(() => true),
  ).catch(async (error: unknown) => {
    await server.stop()
    throw error
  })
  return { ...server, bin: found.bin }
}
