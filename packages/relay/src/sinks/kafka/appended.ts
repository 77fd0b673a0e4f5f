import { errorTree } from './errors.js'

/** `topic:partition`, the key of {@link appendedPartitions}. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}

/**
 * The partitions a failed `producer.send` still appended, as `topic:partition`: those of the brokers that
 * answered (the error's `produced.offsets`), and those a broker acknowledged in an answer that refused
 * others (error code 0 in a Produce response the client attached to its ResponseError). With `acks: -1`
 * these records are durable; sending them again would only duplicate them, since the client gives the
 * producer a new id after any failed send.
 */
export function appendedPartitions(error: unknown): Set<string> {
  const appended = new Set<string>()
  for (const inner of errorTree(error)) {
    for (const offset of arrayAt(Reflect.get(inner, 'produced'), 'offsets')) {
      const topic = field(offset, 'topic')
      const partition = field(offset, 'partition')
      if (typeof topic === 'string' && typeof partition === 'number')
        appended.add(partitionKey(topic, partition))
    }
    for (const response of arrayAt(Reflect.get(inner, 'response'), 'responses')) {
      const topic = field(response, 'name')
      if (typeof topic !== 'string') continue
      for (const answer of arrayAt(response, 'partitionResponses')) {
        const partition = field(answer, 'index')
        if (typeof partition === 'number' && field(answer, 'errorCode') === 0)
          appended.add(partitionKey(topic, partition))
      }
    }
  }
  return appended
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined
}

function arrayAt(value: unknown, name: string): unknown[] {
  const array = field(value, name)
  return Array.isArray(array) ? array : []
}
