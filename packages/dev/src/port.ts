import { createServer } from 'node:net'

/**
 * Listen on 127.0.0.1:`port` (0: any free one) and close again. Resolves with the port that was bound;
 * rejects with the listen error (`EADDRINUSE` when something listens there).
 */
export function probePort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.once('error', reject)
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address()
      const bound = typeof address === 'object' && address ? address.port : port
      probe.close(() => resolve(bound))
    })
  })
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return probePort(0)
}
