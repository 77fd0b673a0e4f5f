import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { FactlibError } from '@factlib/emit'
import type { EmbeddedPostgresOptions } from './embedded-postgres.js'

/** Messages from dev to the host process. */
export type ParentMessage =
  | { start: Omit<EmbeddedPostgresOptions, 'log'> & { verbose: boolean } }
  | { stop: true }
/** Messages from the host process to dev. */
export type HostMessage =
  | { ready: { url: string; port: number } }
  | { failed: { code: string; message: string } }
  | { log: string }

/** `factlib dev`'s PostgreSQL, running in a host process of its own. */
export interface DevPostgres {
  readonly url: string
  readonly port: number
  /** Stop the server (fast shutdown) and its host process. */
  stop(): Promise<void>
}

const host = fileURLToPath(new URL('./dev-postgres-host.js', import.meta.url))

/**
 * Start an embedded PostgreSQL (see `startEmbeddedPostgres`) in a detached host process: a session of its
 * own, so the terminal's Ctrl-C reaches dev only, and dev can stop the relay before the database. The host
 * stops the server when dev asks, and when dev dies without asking.
 */
export function startDevPostgres(
  options: Omit<EmbeddedPostgresOptions, 'log'> & { log?: (line: string) => void },
): Promise<DevPostgres> {
  const { log, ...start } = options
  const child: ChildProcess = spawn(process.execPath, [host], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  const stderr: string[] = []
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return new Promise<DevPostgres>((resolve, reject) => {
    child.on('message', (message: HostMessage) => {
      if ('log' in message) log?.(message.log)
      else if ('failed' in message) reject(new FactlibError(message.failed.code, message.failed.message))
      else
        resolve({
          ...message.ready,
          async stop() {
            if (child.connected) child.send({ stop: true } satisfies ParentMessage)
            await exited
          },
        })
    })
    void exited.then((code) =>
      reject(
        new FactlibError(
          'EMBEDDED_POSTGRES_START',
          `the embedded PostgreSQL host process exited (${code}) before the server was ready` +
            (stderr.length ? `: ${stderr.join('').trim()}` : ''),
        ),
      ),
    )
    child.send({ start: { ...start, verbose: log !== undefined } } satisfies ParentMessage)
  })
}
