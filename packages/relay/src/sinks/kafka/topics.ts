import { FactlibError } from '@factlib/emit'
import type { Admin } from '@platformatic/kafka'
import type { Logger } from '../../observability/log.js'
import { invalidTopicReason } from '../../pipeline/topic.js'
import { RateLimit } from '../../util/rate-limit.js'
import { sleep } from '../../util/retry.js'
import { kafkaErrorType, rootCause } from './errors.js'
import { grantHint } from './permissions.js'

/**
 * Thrown while a topic cannot be created or described (code `KAFKA_TOPIC_REFUSED`, retriable); the message
 * says which permission is missing.
 */
export class TopicRefusedError extends FactlibError {
  constructor(
    readonly topic: string,
    message: string,
    cause: unknown,
  ) {
    super('KAFKA_TOPIC_REFUSED', message, { cause, retriable: true })
  }
}

/** How long a topic the relay created may take to have a leader for every partition. */
const LEADERS_WAIT_MS = 10_000

/**
 * Makes topics exist before the sink writes to them: Amazon MSK (and the test broker) do not create topics
 * on first use. An existing topic needs only DESCRIBE; a missing one is created with the configured number
 * of partitions and the broker's default replication factor.
 */
export class Topics {
  readonly #known = new Set<string>()
  readonly #refused = new Map<string, string>()
  readonly #warnings = new RateLimit(30_000)

  constructor(
    readonly admin: () => Admin,
    readonly partitions: number,
    readonly log: Logger,
  ) {}

  /** Why a topic is refused right now, for readiness; undefined when none is. */
  refusal(): string | undefined {
    return this.#refused.values().next().value
  }

  /** Check these topics again before the next write (one vanished, or metadata was stale). */
  forget(topics: Iterable<string>): void {
    for (const topic of topics) this.#known.delete(topic)
  }

  /**
   * Make every topic exist. Resolves to the topics that can never exist (invalid names) with the reason;
   * throws {@link TopicRefusedError} while one is refused, or the client's error when Kafka is unreachable.
   */
  async ensure(topics: Iterable<string>): Promise<Map<string, string>> {
    const invalid = new Map<string, string>()
    for (const topic of topics) {
      if (this.#known.has(topic)) continue
      const reason = invalidTopicReason(topic) ?? (await this.#ensureOne(topic))
      if (reason === undefined) this.#known.add(topic)
      else invalid.set(topic, reason)
    }
    return invalid
  }

  async #ensureOne(topic: string): Promise<string | undefined> {
    try {
      if (!(await this.#exists(topic))) await this.#create(topic)
    } catch (error) {
      const type = kafkaErrorType(error)
      if (type === 'INVALID_TOPIC_EXCEPTION')
        return `the broker rejected topic "${topic}" (INVALID_TOPIC_EXCEPTION: an invalid name, or one that collides with an existing topic when "." and "_" are treated alike)`
      const hint = type === undefined ? undefined : refusalHint(type, topic, this.partitions)
      if (hint === undefined) throw error
      this.#refuse(topic, hint, error)
    }
    if (this.#refused.delete(topic)) {
      this.#warnings.clear(topic)
      this.log.info('topic is available now', { topic })
    }
    return undefined
  }

  // Listing rather than asking for the topic's metadata: the client reports a missing topic only as text.
  async #exists(topic: string): Promise<boolean> {
    return (await this.admin().listTopics()).includes(topic)
  }

  async #create(topic: string): Promise<void> {
    try {
      await this.admin().createTopics({ topics: [topic], partitions: this.partitions })
      this.log.info('created topic', { topic, partitions: this.partitions })
    } catch (error) {
      // Another relay created it between our check and our request.
      if (kafkaErrorType(error) !== 'TOPIC_ALREADY_EXISTS') throw error
      this.log.info('topic was created meanwhile', { topic })
    }
    await this.#leaders(topic)
  }

  /**
   * Wait (at most `LEADERS_WAIT_MS`) until every partition of a new topic has a leader: the broker answers
   * CreateTopics before that, and a produce request sooner only fails and is retried.
   */
  async #leaders(topic: string): Promise<void> {
    const until = Date.now() + LEADERS_WAIT_MS
    for (;;) {
      const metadata = await this.admin()
        .metadata({ topics: [topic], forceUpdate: true })
        .catch(() => undefined)
      const partitions = metadata?.topics.get(topic)?.partitions ?? []
      const led = partitions.length > 0 && partitions.every((partition) => partition.leader >= 0)
      if (led || Date.now() > until) return
      await sleep(100)
    }
  }

  #refuse(topic: string, hint: string, cause: unknown): never {
    const first = !this.#refused.has(topic)
    this.#refused.set(topic, hint)
    const suppressed = this.#warnings.take(topic)
    const fields = { topic, error: rootCause(cause), ...(suppressed ? { suppressed } : {}) }
    if (first) this.log.error(`${hint}; retrying until it can`, fields)
    else if (suppressed !== undefined)
      this.log.warn(`still cannot make topic "${topic}" exist: ${hint}`, fields)
    throw new TopicRefusedError(topic, hint, cause)
  }
}

function refusalHint(type: string, topic: string, partitions: number): string | undefined {
  const createIt = `or create topic "${topic}" yourself (${partitions} partitions)`
  switch (type) {
    case 'TOPIC_AUTHORIZATION_FAILED':
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return (
        `cannot create or describe topic "${topic}" (${type}): the Kafka principal lacks CREATE or DESCRIBE ` +
        `permission on it; ${grantHint(['createTopic', 'describeTopic'])}, ${createIt}`
      )
    case 'POLICY_VIOLATION':
    case 'INVALID_PARTITIONS':
    case 'INVALID_REPLICATION_FACTOR':
    case 'INVALID_CONFIG':
      return `the broker refused to create topic "${topic}" (${type}); check its create.topic.policy and defaults, ${createIt}`
    default:
      return undefined
  }
}

/** Why the broker refused to create `topic`, with the fix; undefined when `error` is no such refusal. */
export function topicRefusal(error: unknown, topic: string, partitions: number): string | undefined {
  const type = kafkaErrorType(error)
  return type === undefined ? undefined : refusalHint(type, topic, partitions)
}
