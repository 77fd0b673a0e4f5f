import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { FactlibError } from '@factlib/emit'
import { closedToOtherUsers } from './folder-access.js'
import { freePort, probePort } from './port.js'

/** `factlib dev`'s project-local folder: the database's data and what dev remembers between runs. */
export interface DevDir {
  readonly root: string
  /** PostgreSQL's data directory. */
  readonly dataDir: string
  /** Whether the data directory held a database before this run. */
  readonly existed: boolean
  /** The port to start PostgreSQL on: the one asked for, else last run's if it is free, else a free one. */
  port(requested: number | undefined): Promise<number>
  /** Remember the port for the next run, so DATABASE_URL stays the same across restarts. */
  remember(port: number): Promise<void>
}

/**
 * Create (or reuse) the folder, with a `.gitignore` of `*` so it is never committed. `fresh` removes the
 * database first. As root, the server runs as the `postgres` user, which must be able to reach the folder.
 */
export async function openDevDir(root: string, { fresh }: { fresh: boolean }): Promise<DevDir> {
  const dataDir = join(root, 'postgres')
  const stateFile = join(root, 'dev.json')
  await mkdir(root, { recursive: true })
  await writeFile(join(root, '.gitignore'), '*\n')
  if (fresh) await rm(dataDir, { recursive: true, force: true })
  if (userInfo().uid === 0) await assertReachableByOthers(dirname(root))
  const existed = await access(join(dataDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  )
  const remembered = async (): Promise<number | undefined> => {
    try {
      const { port } = JSON.parse(await readFile(stateFile, 'utf8')) as { port?: unknown }
      return typeof port === 'number' ? port : undefined
    } catch {
      return undefined
    }
  }
  return {
    root,
    dataDir,
    existed,
    async port(requested) {
      if (requested !== undefined) return requested
      const previous = fresh ? undefined : await remembered()
      // Last run's port when nothing listens there now (the probe binds it), else any free one.
      if (previous !== undefined) return probePort(previous).catch(() => freePort())
      return freePort()
    },
    remember: (port) => writeFile(stateFile, `${JSON.stringify({ port }, null, 2)}\n`),
  }
}

// PostgreSQL refuses to run as root; it runs as `postgres`, which needs to pass through every folder above
// its data directory. A root-owned 0700 home folder would stop it with a confusing server log.
async function assertReachableByOthers(folder: string): Promise<void> {
  const closed = await closedToOtherUsers(folder)
  if (closed)
    throw new FactlibError(
      'DEV_DIR_UNREACHABLE',
      `running as root, PostgreSQL runs as the postgres user, which cannot enter ${closed.folder} (mode ` +
        `${closed.mode.toString(8)}): use --dir with a folder it can reach (e.g. under /tmp), or chmod o+x ${closed.folder}`,
    )
}
