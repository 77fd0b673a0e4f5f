import { createServer, Socket } from 'node:net'

/**
 * A local TCP proxy whose target can be switched: the role a DNS name plays for clients of a database
 * that fails over. Each accepted connection is piped to the target of the moment; when either side closes
 * or fails, so does the other. It can also go silent ({@link TcpProxy.blackhole}), as a partition, a NAT
 * timeout or a security group change does: nothing forwarded, nothing closed.
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
  /**
   * Stop forwarding in both directions on every connection, made and yet to be made, without closing
   * either socket: no FIN, no RST, nothing. The proxy stops reading, so a sender's writes back up in its
   * socket as they would behind a link that drops packets. A connection made meanwhile is accepted but
   * not connected to the target until {@link resume}.
   */
  blackhole(): void
  /** Forward again: what was held back flows on (TCP's retransmission after a short partition). */
  resume(): void
  readonly blackholed: boolean
  close(): Promise<void>
}

/** Start a proxy on a free port of 127.0.0.1 forwarding to `target` on 127.0.0.1. */
export async function startTcpProxy(target: number): Promise<TcpProxy> {
  let current = target
  let blackholed = false
  const sockets = new Set<Socket>()
  // Each connection's way of starting or stopping its forwarding.
  const links = new Set<{ hold(): void; forward(): void }>()
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
    let connecting = false
    let connected = false
    const pipeBoth = () => {
      client.pipe(upstream)
      upstream.pipe(client)
    }
    const link = {
      hold() {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      },
      forward() {
        if (connected) pipeBoth()
        else if (!connecting) {
          connecting = true
          upstream.connect(current, '127.0.0.1', () => {
            connected = true
            if (!blackholed) pipeBoth()
          })
        }
      },
    }
    links.add(link)
    client.once('close', () => links.delete(link))
    client.once('error', end).once('close', end)
    upstream.once('error', end).once('close', end)
    if (blackholed) client.pause()
    else link.forward()
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
    get blackholed() {
      return blackholed
    },
    blackhole() {
      if (blackholed) return
      blackholed = true
      for (const link of links) link.hold()
    },
    resume() {
      if (!blackholed) return
      blackholed = false
      for (const link of links) link.forward()
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
