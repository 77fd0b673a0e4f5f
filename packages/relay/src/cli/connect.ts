import pg from 'pg'
import { explainConnectError } from '../wal/prerequisites.js'

/**
 * A connected client for `factlib <command>` (its `application_name` is `factlib-<command>`), or a
 * FactlibError that says why the database is unreachable, without the password.
 */
export async function connectDatabase(databaseUrl: string, command: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: `factlib-${command}` })
  // A connection lost while the command runs fails its query; the client's event would crash the process.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    throw explainConnectError(error, databaseUrl)
  }
  return client
}
