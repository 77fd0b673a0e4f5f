// Over 300 lines on purpose: one class whose delivery loop decides retry, recreate, split, dead-letter and
// recheck together, with the producer and topic state those decisions share. Planning requests
// (requests.ts), dead letters (dead-letters.ts) and error classification (errors.ts) live beside it.
import { FactlibError } from '@factlib/emit'
import { type Admin, type Kafka, Partitioners, type Producer } from 'kafkajs'
import type { KafkaConfig } from '../../config/config.js'
import { type Logger, silentLogger } from '../../observability/log.js'
import type { DeadLetterReason } from '../../pipeline/record.js'
import { errorMessage } from '../../util/error-fields.js'
import { RateLimit } from '../../util/rate-limit.js'
import { Backoff, type BackoffOptions, sleep } from '../../util/retry.js'
import { withTimeout } from '../../util/timeout.js'
import type { SendResult, Sink, SinkReadiness, SinkRecord } from '../sink.js'
import { createKafkaClient, type KafkaClientOptions } from './client.js'
import { connectFailure } from './connect-failure.js'
import { SinkDeadLetters } from './dead-letters.js'
import { classifyProduceError, type ProduceFailure } from './errors.js'
import { planRequests, splitRequest, topicMessages } from './requests.js'
import { Topics } from './topics.js'

/** Options of {@link KafkaSink} besides the {@link KafkaConfig}. */
export interface KafkaSinkOptions extends Omit<KafkaClientOptions, 'log'> {
  /** Dead-letter topic (FACTLIB_DLQ_TOPIC). */
  dlqTopic: string
  /** Partitions of the topics the sink creates (FACTLIB_TOPIC_PARTITIONS). */
  topicPartitions: number
  log?: Logger
  /** Called for every failed attempt (each is retried): `factlib_produce_errors_total{kind}`. */
  onProduceError?: (kind: string, error: unknown) => void
  /** Backoff between failed attempts. @default { initialRetryTime: 300, maxRetryTime: 10_000 } */
  retry?: BackoffOptions
  /** `start()` gives up on an unreachable Kafka after this long. @default 15_000 */
  startTimeoutMs?: number
  /** How long the broker may wait for all in-sync replicas to acknowledge. @default 10_000 */
  produceTimeoutMs?: number
  /**
   * Records per request add up to at most this many bytes (one request per round trip); lowered by itself
   * when the broker answers MESSAGE_TOO_LARGE. @default 1_000_000
   */
  maxRequestBytes?: number
  /** A single record over this many bytes is dead-lettered without being sent. @default 32 MiB */
  maxRecordBytes?: number
}

/** After this many UNKNOWN_TOPIC_OR_PARTITION in a row the producer is recreated: kafkajs keeps asking for metadata of every topic it ever wrote to, and one deleted topic fails them all. */
const UNKNOWN_TOPIC_RECREATE_AFTER = 3

/**
 * The Kafka sink: an idempotent kafkajs producer (`acks: -1`, one request in flight), one `sendBatch` at a
 * time. `send` resolves once Kafka acknowledged every record; it retries without end (capped, jittered
 * backoff), recreates the producer on sequence errors and resends what is unacknowledged in order, splits
 * requests the broker finds too large, and dead-letters only a single record that can never be produced.
 *
 * @example
 * ```ts
 * const sink = new KafkaSink(config.sink, {
 *   dlqTopic: config.dlqTopic,
 *   topicPartitions: config.topicPartitions,
 *   log,
 *   onProduceError: (kind) => metrics.produceError(kind),
 * })
 * await sink.start()
 * const { deadLettered } = await sink.send(records, abortController.signal)
 * ```
 */
export class KafkaSink implements Sink {
  readonly kind = 'kafka' as const
  readonly #config: KafkaConfig
  readonly #options: KafkaSinkOptions
  readonly #log: Logger
  readonly #closing = new AbortController()
  readonly #failureLogs = new RateLimit(10_000)
  readonly #deadLetters: SinkDeadLetters
  #kafka: Kafka | undefined
  #admin: Admin | undefined
  #producer: Producer | undefined
  /** kafkajs marks a producer connected before it has its producer id; only this flag says it has. */
  #producerReady = false
  #topics: Topics | undefined
  #requestBytes: number
  #tail: Promise<void> = Promise.resolve()
  #state: 'new' | 'started' | 'closed' = 'new'
  #failing: string | undefined

  constructor(config: KafkaConfig, options: KafkaSinkOptions) {
    this.#config = config
    this.#options = options
    this.#log = (options.log ?? silentLogger).child({ component: 'kafka-sink' })
    this.#deadLetters = new SinkDeadLetters(options.dlqTopic, this.#log)
    this.#requestBytes = options.maxRequestBytes ?? 1_000_000
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return
    const started = Date.now()
    const timeoutMs = this.#options.startTimeoutMs ?? 15_000
    let brokers: string[] = this.#config.brokers
    try {
      const client = await createKafkaClient(this.#config, { ...this.#options, log: this.#log })
      brokers = client.brokers
      this.#kafka = client.kafka
    } catch (error) {
      throw connectFailure(error, this.#config, brokers, Date.now() - started)
    }
    const admin = this.#kafka.admin({ retry: { retries: 0 } })
    this.#admin = admin
    this.#producer = this.#newProducer()
    this.#topics = new Topics(() => admin, this.#options.topicPartitions, this.#log)
    const backoff = new Backoff({ initialRetryTime: 200, maxRetryTime: 2_000 })
    for (;;) {
      const remaining = started + timeoutMs - Date.now()
      try {
        await withTimeout(
          (async () => {
            await admin.connect()
            await this.#producer?.connect()
          })(),
          remaining,
          () => new Error(`no answer within ${Math.max(0, Math.round(remaining))} ms`),
        )
        break
      } catch (error) {
        const failure = connectFailure(error, this.#config, brokers, Date.now() - started)
        const delay = backoff.next()
        if (failure.code !== 'KAFKA_UNREACHABLE' || Date.now() - started + delay >= timeoutMs) {
          await this.#disconnect()
          this.#state = 'closed'
          this.#log.error('cannot connect to Kafka', { code: failure.code, error: failure.message })
          throw failure
        }
        this.#log.warn('Kafka is not reachable yet; retrying', { brokers, error: failure.message })
        await sleep(delay)
      }
    }
    this.#producerReady = true
    this.#state = 'started'
    this.#log.info('connected to Kafka', {
      brokers,
      tls: this.#config.tls,
      sasl: this.#config.sasl ?? 'none',
    })
  }

  send(records: SinkRecord[], signal: AbortSignal): Promise<SendResult> {
    // One delivery at a time: concurrent sends on one idempotent kafkajs producer desync its sequence numbers.
    const delivery = this.#tail.then(() => this.#deliver(records, signal))
    this.#tail = delivery.then(
      () => {},
      () => {},
    )
    return delivery
  }

  readiness(): SinkReadiness {
    if (this.#state !== 'started')
      return {
        ready: false,
        reason: this.#state === 'new' ? 'the Kafka sink is not started' : 'the Kafka sink is closed',
      }
    const refusal = this.#topics?.refusal() ?? this.#failing
    return refusal === undefined ? { ready: true } : { ready: false, reason: refusal }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed' && !this.#kafka) return
    this.#closing.abort()
    await this.#tail
    this.#state = 'closed'
    await this.#disconnect()
  }

  async #deliver(records: SinkRecord[], signal: AbortSignal): Promise<SendResult> {
    if (this.#state !== 'started')
      throw new FactlibError(
        this.#state === 'new' ? 'SINK_NOT_STARTED' : 'SINK_CLOSED',
        `the Kafka sink is ${this.#state === 'new' ? 'not started: call start() first' : 'closed'}`,
      )
    // Not AbortSignal.any: it keeps a reference per call on the long-lived signals in Node 20.
    const stopping = new AbortController()
    const stop = () => stopping.abort()
    signal.addEventListener('abort', stop, { once: true })
    this.#closing.signal.addEventListener('abort', stop, { once: true })
    if (signal.aborted || this.#closing.signal.aborted) stop()
    try {
      return await this.#deliverUntil(records, signal, stopping.signal)
    } finally {
      signal.removeEventListener('abort', stop)
      this.#closing.signal.removeEventListener('abort', stop)
    }
  }

  async #deliverUntil(records: SinkRecord[], signal: AbortSignal, stop: AbortSignal): Promise<SendResult> {
    const maxRecordBytes = this.#options.maxRecordBytes ?? 32 * 1024 * 1024
    const pending = planRequests(
      records.map((record) => this.#deadLetters.withinLimit(record, maxRecordBytes)),
      this.#requestBytes,
    )
    const deadLettered = new Map<SinkRecord, DeadLetterReason>()
    const backoff = new Backoff({ initialRetryTime: 300, maxRetryTime: 10_000, ...this.#options.retry })
    let unknownTopicStreak = 0
    while (pending.length > 0) {
      if (stop.aborted)
        throw signal.aborted ? signal.reason : new FactlibError('SINK_CLOSED', 'the Kafka sink was closed')
      const chunk = pending[0] as SinkRecord[]
      const outcome = await this.#attempt(chunk)
      if (outcome === 'acknowledged') {
        pending.shift()
        backoff.reset()
        unknownTopicStreak = 0
        this.#failing = undefined
        for (const record of chunk) {
          const letter = this.#deadLetters.of(record)
          if (letter) deadLettered.set(letter.original, letter.reason)
        }
        continue
      }
      if (Array.isArray(outcome)) {
        pending.splice(0, 1, outcome)
        continue
      }
      const { error, failure } = outcome
      this.#options.onProduceError?.(failure.kind, error)
      this.#logFailure(chunk, failure, error, backoff.attempts)
      if (failure.action === 'bug') throw error
      if (failure.action === 'split') {
        if (chunk.length > 1) {
          const { halves, requestBytes } = splitRequest(chunk, this.#requestBytes)
          pending.splice(0, 1, ...halves)
          this.#requestBytes = requestBytes
          continue
        }
        const letter = this.#deadLetters.next(chunk[0] as SinkRecord, failure)
        if (letter) {
          pending[0] = [letter]
          continue
        }
      }
      this.#failing =
        failure.hint ?? `producing to Kafka fails (${failure.kind}: ${errorMessage(error)}); retrying`
      if (failure.action === 'recreate') await this.#recreateProducer(failure.kind)
      if (failure.action === 'recheck_topics') {
        this.#topics?.forget(chunk.map((record) => record.topic))
        if (++unknownTopicStreak % UNKNOWN_TOPIC_RECREATE_AFTER === 0)
          await this.#recreateProducer(failure.kind)
      }
      await sleep(backoff.next(), stop)
    }
    return { deadLettered }
  }

  /** One try at a chunk: topics made to exist, then one `sendBatch`. Never throws. */
  async #attempt(
    chunk: SinkRecord[],
  ): Promise<'acknowledged' | SinkRecord[] | { error: unknown; failure: ProduceFailure }> {
    try {
      const topics = this.#topics as Topics
      const invalid = await topics.ensure(new Set(chunk.map((record) => record.topic)))
      if (invalid.size > 0) {
        const dlqReason = invalid.get(this.#options.dlqTopic)
        if (dlqReason !== undefined)
          throw new FactlibError(
            'KAFKA_DLQ_INVALID',
            `the dead-letter topic cannot be used: ${dlqReason}; set FACTLIB_DLQ_TOPIC`,
          )
        return chunk.map((record) => {
          const reason = invalid.get(record.topic)
          return reason === undefined
            ? record
            : this.#deadLetters.letter(record, 'invalid_topic', reason, false)
        })
      }
      const producer = this.#producer as Producer
      if (!this.#producerReady) {
        await producer.connect()
        this.#producerReady = true
      }
      await producer.sendBatch({
        topicMessages: topicMessages(chunk),
        acks: -1,
        timeout: this.#options.produceTimeoutMs ?? 10_000,
      })
      return 'acknowledged'
    } catch (error) {
      const failure = classifyProduceError(error)
      if (error instanceof FactlibError && error.code === 'KAFKA_DLQ_INVALID') failure.hint = error.message
      return { error, failure }
    }
  }

  #newProducer(): Producer {
    return (this.#kafka as Kafka).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
  }

  async #recreateProducer(kind: string): Promise<void> {
    this.#log.warn('recreating the Kafka producer; unacknowledged records are sent again in order', { kind })
    const old = this.#producer
    this.#producer = this.#newProducer()
    this.#producerReady = false
    await old
      ?.disconnect()
      .catch((error: unknown) => this.#log.debug('disconnecting the old producer failed', { error }))
  }

  #logFailure(chunk: SinkRecord[], failure: ProduceFailure, error: unknown, attempts: number): void {
    // Topics logs its refusals itself, per topic.
    if (failure.kind === 'topic_refused') return
    const suppressed = this.#failureLogs.take(failure.kind)
    if (suppressed === undefined) return
    const fields = {
      kind: failure.kind,
      action: failure.action,
      topics: [...new Set(chunk.map((record) => record.topic))],
      records: chunk.length,
      attempt: attempts + 1,
      error,
      ...(suppressed ? { suppressed } : {}),
    }
    if (failure.hint) this.#log.error(`producing to Kafka fails: ${failure.hint}`, fields)
    else this.#log.warn('producing to Kafka failed; retrying', fields)
  }

  async #disconnect(): Promise<void> {
    const quietly = (what: string) => (error: unknown) =>
      this.#log.debug(`disconnecting the ${what} failed`, { error })
    await this.#producer?.disconnect().catch(quietly('producer'))
    await this.#admin?.disconnect().catch(quietly('admin client'))
    this.#producer = undefined
    this.#admin = undefined
    this.#kafka = undefined
  }
}
