import type { ConfigVariable } from '@factlib/relay/config'
import type { FargateCpu } from './options.js'

/** The relay's container: image, size, settings, health check and shutdown. */
export interface ContainerSpec<V = string> {
  name: 'relay'
  /** The image's build: both paths relative to the repository root, shared by SST and the CDK. */
  image: { context: '.'; dockerfile: 'packages/relay/Dockerfile' }
  architecture: 'arm64'
  cpu: FargateCpu
  memoryMiB: number
  /** Arguments to the image's entrypoint (`node …/cli.js`). */
  command: ['relay']
  port: number
  /** Plain environment: the relay's configuration contract only. */
  environment: Partial<Record<ConfigVariable, string | V>>
  /** Variables that come from a secret (ECS `secrets`), never from plain environment. */
  secrets: ['DATABASE_URL']
  healthCheck: {
    command: string[]
    intervalSeconds: number
    timeoutSeconds: number
    retries: number
    startPeriodSeconds: number
  }
  /** Longer than the relay's own shutdown timeout, so ECS never SIGKILLs a relay that is still confirming. */
  stopTimeoutSeconds: number
  /** An init process as PID 1 forwards SIGTERM and reaps children. */
  initProcessEnabled: true
}

/** The ECS service around it: never two readers by accident, no load balancer. */
export interface ServiceSpec {
  /** 1, or 2 with a hot standby that waits on the slot. */
  desiredCount: 1 | 2
  /**
   * With one task: 0/100, so a deployment stops the old relay before starting the new one. With a standby:
   * 50/100, so one of the two keeps running and there are never three.
   */
  minimumHealthyPercent: 0 | 50
  maximumPercent: 100
  circuitBreaker: { enable: true; rollback: true }
}

/** The container's health check: `GET /healthz` with Node's own fetch (the image has no curl). */
export function healthCheckCommand(port: number): string[] {
  const script = `fetch('http://127.0.0.1:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
  return ['CMD', 'node', '-e', script]
}

/** Memory (MiB) Fargate accepts for each CPU size. */
export function validMemory(cpu: FargateCpu, memoryMiB: number): boolean {
  const gib = memoryMiB / 1024
  switch (cpu) {
    case 256:
      return [512, 1024, 2048].includes(memoryMiB)
    case 512:
      return Number.isInteger(gib) && gib >= 1 && gib <= 4
    case 1024:
      return Number.isInteger(gib) && gib >= 2 && gib <= 8
    case 2048:
      return Number.isInteger(gib) && gib >= 4 && gib <= 16
    case 4096:
      return Number.isInteger(gib) && gib >= 8 && gib <= 30
  }
}
