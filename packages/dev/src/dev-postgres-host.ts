// The process that keeps `factlib dev`'s PostgreSQL, started by dev-postgres.ts in a session of its own:
// Ctrl-C in the terminal reaches dev (which stops the relay first, confirming what it delivered) and not
// this process or the server, which would otherwise shut down under the relay.
import { FactlibError } from '@factlib/emit'
import type { HostMessage, ParentMessage } from './dev-postgres.js'
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded-postgres.js'

const send = (message: HostMessage) => process.send?.(message)
let stopping: Promise<void> | undefined
let stopServer: (() => Promise<void>) | undefined

const stop = () => {
  stopping ??= (async () => {
    await stopServer?.().catch(() => {})
    process.disconnect?.()
    process.exit(0)
  })()
  return stopping
}

process.on('message', (message: ParentMessage) => {
  if ('stop' in message) void stop()
  else void start(message.start)
})
// dev ended without asking (killed): take the server down with it.
process.on('disconnect', () => void stop())

async function start(options: Omit<EmbeddedPostgresOptions, 'log'> & { verbose: boolean }) {
  // embedded-postgres hooks signals and exit to stop its servers; this process does that itself, in order.
  const before = new Set(hookedListeners().map(([, listener]) => listener))
  try {
    const server = await startEmbeddedPostgres({
      ...options,
      ...(options.verbose ? { log: (line: string) => send({ log: line }) } : {}),
    })
    stopServer = () => server.stop()
    for (const [event, listener] of hookedListeners(before)) process.off(event as 'SIGINT', listener)
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop())
    if (stopping) return void stop()
    send({ ready: { url: server.url, port: server.port } })
  } catch (error) {
    send({
      failed: {
        code: error instanceof FactlibError ? error.code : 'EMBEDDED_POSTGRES_START',
        message: error instanceof Error ? error.message : String(error),
      },
    })
    process.disconnect?.()
    process.exit(1)
  }
}

function hookedListeners(except = new Set<unknown>()): Array<[string, (...args: unknown[]) => void]> {
  return ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message']
    .flatMap((event) =>
      process.listeners(event as 'SIGINT').map((listener) => [event, listener] as [string, () => void]),
    )
    .filter(([, listener]) => !except.has(listener))
}
