import { randomUUID } from 'node:crypto'
import { freePort, type KafkaBroker, startKafka } from '../../../../test/harness/index.js'
import type { KafkaConfig } from '../../src/config/config.js'
import type { Logger } from '../../src/observability/log.js'
import type { SinkRecord } from '../../src/sinks/sink.js'

export function plainConfig(brokers: string[], extra: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    kind: 'kafka',
    brokers,
    clusterArn: undefined,
    sasl: undefined,
    username: undefined,
    password: undefined,
    tls: false,
    compression: 'none',
    ...extra,
  }
}

const encoder = new TextEncoder()

/** A record shaped like the relay's fact records (CloudEvents headers, `factlib-lsn`). */
export function fact(
  topic: string,
  key: string,
  value: Uint8Array | string,
  headers: Record<string, string> = {},
) {
  return {
    topic,
    key,
    value: typeof value === 'string' ? encoder.encode(value) : value,
    headers: {
      ce_specversion: '1.0',
      ce_id: randomUUID(),
      ce_source: 'shop',
      ce_type: 'test.happened',
      'content-type': 'application/octet-stream',
      'factlib-lsn': '0/16B3748',
      ...headers,
    },
  } satisfies SinkRecord
}

export interface LogLine {
  level: string
  message: string
  fields: Record<string, unknown>
}

/** A logger that keeps what it is given, with child fields merged. */
export function collectingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const make = (bound: Record<string, unknown>): Logger => {
    const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
      void lines.push({ level, message, fields: { ...bound, ...fields } })
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (fields) => make({ ...bound, ...fields }),
    }
  }
  return { logger: make({}), lines }
}

/**
 * A private broker with `count` extra listener ports. A port found free can be taken (by another test's
 * client connection) before the broker binds it; then the start is tried once more with new ports.
 */
export async function startKafkaWithPorts(
  count: number,
  properties: (ports: number[]) => Record<string, string | number>,
): Promise<{ broker: KafkaBroker; ports: number[] }> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = []
    for (let index = 0; index < count; index++) ports.push(await freePort())
    try {
      return { broker: await startKafka({ properties: properties(ports) }), ports }
    } catch (error) {
      if (attempt >= 2 || !/in use/i.test(error instanceof Error ? error.message : String(error))) throw error
    }
  }
}
