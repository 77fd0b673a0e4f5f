import { createServer, Socket } from 'node:net'

/**
 * A local TCP proxy whose target can be switched: the role a DNS name plays for clients of a database
 * that fails over. Each accepted connection is piped to the target of the moment; when either side closes
 * or fails, so does the other.
 */
export interface TcpProxy {
  /** The port clients connect to, on 127.0.0.1. */
  readonly port: number
  /** The port new connections are forwarded to. */
  readonly target: number
  /** Forward new connections to `port`; connections already made stay where they are. */
  switchTo(port: number): void
  /** Close every connection made so far, as a network cut would. */
  cutAll(): void
  close(): Promise<void>
}

/** Start a proxy on a free port of 127.0.0.1 forwarding to `target` on 127.0.0.1. */
export async function startTcpProxy(target: number): Promise<TcpProxy> {
  let current = target
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const server = createServer((client) => {
    const upstream = new Socket()
    track(client)
    track(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.once('error', end).once('close', end)
    upstream.once('error', end).once('close', end)
    upstream.connect(current, '127.0.0.1', () => {
      client.pipe(upstream)
      upstream.pipe(client)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port')
  return {
    port: address.port,
    get target() {
      return current
    },
    switchTo(port) {
      current = port
    },
    cutAll() {
      for (const socket of sockets) socket.destroy()
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
