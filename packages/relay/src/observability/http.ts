import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What the HTTP endpoints report; called on every request. */
export interface HealthSource {
  /** Not ready, and why; empty when ready. */
  notReady(): string[]
  /** Prometheus text. */
  metrics(): string
  /** Extra fields for /readyz and /healthz bodies (position, lag). */
  status(): Record<string, unknown>
}

/** A running observability server. */
export interface HttpServer {
  readonly port: number
  close(): Promise<void>
}

/**
 * `/healthz` (the process loop is alive: answering at all proves it), `/readyz` (streaming the slot, topics
 * present, sink connected) and `/metrics` (Prometheus), on one port, served from the first second.
 */
export async function startHttp(port: number, source: HealthSource, host = '0.0.0.0'): Promise<HttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`)
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'GET only' })
    if (path === '/healthz') return json(200, { ok: true, ...source.status() })
    if (path === '/readyz') {
      const reasons = source.notReady()
      return json(reasons.length ? 503 : 200, { ready: reasons.length === 0, reasons, ...source.status() })
    }
    if (path === '/metrics') {
      response
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(source.metrics())
      return
    }
    json(404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
