import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@factlib/dev/embedded-postgres'
import pg from 'pg'
import { uniqueName } from './names.js'
import { waitFor } from './wait.js'

/** A private PostgreSQL for one test run or one test; {@link TestPostgres.destroy} removes its data. */
export interface TestPostgres extends EmbeddedPostgres {
  destroy(): Promise<void>
}

/**
 * Start a real PostgreSQL (`wal_level=logical`) in a fresh temporary data directory. Tests that stop, kill
 * or reconfigure a database start their own with this; everything else shares the run's one server.
 */
export async function startPostgres(
  options: { settings?: Record<string, string | number>; log?: (line: string) => void } = {},
): Promise<TestPostgres> {
  const root = await mkdtemp(join(tmpdir(), 'factlib-pg-'))
  // mkdtemp makes a 0700 folder; the server may run as the `postgres` user and must pass through it.
  await chmod(root, 0o755)
  const server = await startEmbeddedPostgres({
    dataDir: join(root, 'data'),
    // Tests run side by side, each with its own slots: more than a development server needs.
    settings: {
      fsync: 'off',
      full_page_writes: 'off',
      max_replication_slots: 64,
      max_wal_senders: 64,
      // TCP only: a server killed by a test leaves /tmp/.s.PGSQL.<port>.lock behind, and a later server
      // given the same port by chance failed to start on it ("could not create lock file").
      unix_socket_directories: '',
      ...options.settings,
    },
    ...(options.log ? { log: options.log } : {}),
  }).catch(async (error: unknown) => {
    await rm(root, { recursive: true, force: true })
    throw error
  })
  return {
    ...server,
    async destroy() {
      await server.stop()
      await rm(root, { recursive: true, force: true })
    },
  }
}

/** A database created for one test; drop it when done. */
export interface TestDatabase {
  readonly name: string
  readonly url: string
  /** Drops the database, first dropping the replication slots that live in it. */
  drop(): Promise<void>
}

/** Create a database with a random name on the server at `serverUrl` (the run's shared one by default). */
export async function createDatabase(serverUrl: string, prefix = 'db'): Promise<TestDatabase> {
  const name = uniqueName(prefix)
  await withClient(serverUrl, (client) => client.query(`create database ${name}`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    drop: () =>
      withClient(serverUrl, async (client) => {
        const slots = await client.query<{ slot_name: string; active_pid: number | null }>(
          'select slot_name, active_pid from pg_replication_slots where database = $1',
          [name],
        )
        for (const slot of slots.rows) {
          if (slot.active_pid) await client.query('select pg_terminate_backend($1)', [slot.active_pid])
          // A terminated walsender releases its slot a moment later.
          await waitFor(`slot ${slot.slot_name} to be dropped`, () =>
            client.query('select pg_drop_replication_slot($1)', [slot.slot_name]).then(() => true),
          )
        }
        await client.query(`drop database if exists ${name} with (force)`)
      }),
  }
}

/** Run `work` with a connected node-postgres client, always closing it. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * End a node-postgres pool and wait until its connections have closed: `pool.end()` resolves as soon as it
 * has asked them to, and the file's database, dropped with force next, would terminate one still closing.
 */
export async function endPool(pool: pg.Pool, end: () => Promise<unknown> = () => pool.end()) {
  let open = pool.totalCount
  const closed = new Promise<void>((resolve) => {
    if (!open) resolve()
    pool.on('remove', () => --open || resolve())
  })
  await end()
  await closed
}
