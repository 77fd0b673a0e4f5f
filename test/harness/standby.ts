// A primary and a streaming standby, two real PostgreSQL servers (the embedded package's, or an older
// release's), following the verified steps of /work/shared/notes/streaming-standby.md: the package has no
// pg_basebackup, so the standby is a copy of the stopped primary's data directory, without the copied slots.
import { execFile } from 'node:child_process'
import { chmod, chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  EMBEDDED_PASSWORD,
  EMBEDDED_USER,
  freePort,
  startEmbeddedPostgres,
} from '@factlib/dev/embedded-postgres'
import { onTestFinished } from 'vitest'
import { type OlderRelease, startOlderServer } from './older-postgres.js'
import { withClient } from './postgres.js'
import { BASE_SETTINGS, type PostgresServer, postgresUser, runPostgres } from './postgres-server.js'
import { startTcpProxy } from './tcp-proxy.js'
import { waitFor } from './wait.js'

const execFileAsync = promisify(execFile)

/** One server of a {@link ReplicaPair}, run as a child process of the test. */
export type ReplicaServer = PostgresServer

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
  const servers: PostgresServer[] = []
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
    const initial = release === undefined ? undefined : await startOlderServer(release, root, primaryDir)
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
    const owner = postgresUser()
    if (owner.uid !== undefined && owner.gid !== undefined) await chown(signal, owner.uid, owner.gid)

    const primary = await runPostgres(primaryDir, first.port, bin, {
      ...BASE_SETTINGS,
      ...(failoverSlots ? { synchronized_standby_slots: physicalSlot } : {}),
      ...(options.synchronous ? { synchronous_standby_names: physicalSlot } : {}),
    })
    servers.push(primary)
    await primary.accepting('the primary to accept connections')
    const standby = await runPostgres(standbyDir, await freePort(), bin, {
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
