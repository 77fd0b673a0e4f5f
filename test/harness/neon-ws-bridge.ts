import { connect, type Socket } from 'node:net'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'

/** A running WebSocket-to-TCP bridge; give {@link NeonWsBridge.wsProxy} to `neonConfig.wsProxy`. */
export interface NeonWsBridge {
  readonly port: number
  /** `127.0.0.1:<port>/v2`; the driver adds `?address=host:port` and the `ws:` scheme itself. */
  readonly wsProxy: string
  close(): Promise<void>
}

// Past this many queued bytes toward one side, stop reading from the other until it drains.
const HIGH_WATER = 1024 * 1024

/**
 * Neon's WebSocket proxy in miniature: every WebSocket connection becomes one TCP connection to the
 * PostgreSQL at `target`, bytes piped unchanged both ways. The driver's `?address=` is ignored so the
 * bridge can never reach anything but `target`.
 */
export async function startNeonWsBridge(target: { host: string; port: number }): Promise<NeonWsBridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const sockets = new Set<Socket>()
  server.on('connection', (webSocket) => {
    const tcp = connect({ host: target.host, port: target.port })
    sockets.add(tcp)
    pipe(webSocket, tcp)
    tcp.once('close', () => sockets.delete(tcp))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the WebSocket server has no port')
  const port = address.port
  return {
    port,
    wsProxy: `127.0.0.1:${port}/v2`,
    close: async () => {
      for (const client of server.clients) client.terminate()
      for (const tcp of sockets) tcp.destroy()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}

function pipe(webSocket: WebSocket, tcp: Socket): void {
  tcp.setNoDelay(true)
  webSocket.on('message', (data: RawData) => {
    if (!tcp.write(toBuffer(data))) {
      webSocket.pause()
      tcp.once('drain', () => webSocket.resume())
    }
  })
  tcp.on('data', (chunk) => {
    const full = webSocket.bufferedAmount + chunk.length > HIGH_WATER
    if (full) tcp.pause()
    webSocket.send(chunk, { binary: true }, full ? () => tcp.resume() : undefined)
  })
  // PostgreSQL ending the session, or the connection failing, ends the WebSocket; and the other way round.
  let failure = ''
  tcp.on('error', (error) => {
    failure = error.message
  })
  tcp.on('close', () => {
    if (webSocket.readyState !== webSocket.OPEN) return webSocket.terminate()
    // A close reason is limited to 123 bytes.
    webSocket.close(failure ? 1011 : 1000, Buffer.from(failure).subarray(0, 123))
  })
  webSocket.on('error', () => tcp.destroy())
  webSocket.on('close', () => tcp.end())
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}
