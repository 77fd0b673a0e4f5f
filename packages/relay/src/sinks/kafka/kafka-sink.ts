// Over 300 lines on purpose: one class whose delivery loop decides retry, recreate, split, dead-letter and
// recheck together, with the producer and topic state those decisions share. Client settings (client.ts),
// producer settings (producer.ts), messages (messages.ts), planning requests (requests.ts), dead letters
// (dead-letters.ts), error classification (errors.ts) and what a failed send appended (appended.ts) live
// beside it.
import { FactlibError } from '@factlib/emit'
import type { Admin, BaseOptions, MessageToProduce, Producer } from '@platformatic/kafka'
import type { KafkaConfig } from '../../config/config.js'
import { type Logger, silentLogger } from '../../observability/log.js'
import type { DeadLetterReason } from '../../pipeline/record.js'
import { RateLimit } from '../../util/rate-limit.js'
import { Backoff, type BackoffOptions, sleep } from '../../util/retry.js'
import { withTimeout } from '../../util/timeout.js'
import type { SendResult, Sink, SinkReadiness, SinkRecord } from '../sink.js'
import { appendedPartitions, partitionKey } from './appended.js'
import { type KafkaClientOptions, kafkaClientOptions } from './client.js'
import { type KafkaModule, loadKafkaClient } from './client-module.js'
import { connectFailure } from './connect-failure.js'
import { SinkDeadLetters } from './dead-letters.js'
import { classifyProduceError, errorSummary, type ProduceFailure } from './errors.js'
import { ProduceMessages } from './messages.js'
import { createProducer } from './producer.js'
import { planRequests, splitRequest } from './requests.js'
import { Topics } from './topics.js'

/** Options of {@link KafkaSink} besides the {@link KafkaConfig}. */
export interface KafkaSinkOptions extends KafkaClientOptions {
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
  /**
   * How long the broker may wait for all in-sync replicas to acknowledge; kept below the client's request
   * timeout so a slow broker answers before the client gives up on it. @default 10_000, at most two thirds
   * of the request timeout
   */
  produceTimeoutMs?: number
  /**
   * Records per request add up to at most this many bytes (one request per round trip); lowered by itself
   * when the broker answers MESSAGE_TOO_LARGE. @default 1_000_000
   */
  maxRequestBytes?: number
  /** A single record over this many bytes is dead-lettered without being sent. @default 32 MiB */
  maxRecordBytes?: number
}

/**
 * The Kafka sink: an idempotent `@platformatic/kafka` producer (`acks: -1`), one `send` at a time. `send`
 * resolves once Kafka acknowledged every record; it retries without end (capped, jittered backoff),
 * recreates the producer on sequence errors and resends what is unacknowledged in order, splits requests
 * the broker finds too large, and dead-letters only a single record that can never be produced.
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
  /**
   * One batch at a time, and one produce request outstanding. The client gives any failed idempotent send
   * a new producer id and sequence numbers, and recovers a lost producer state by resending inside the send
   * under way: with two sends outstanding, a refused send N and a recovered send N+1 were seen to reach the
   * log as N+1 before N. One at a time, a key's records reach Kafka in WAL order across every retry, split
   * and producer re-creation by construction.
   */
  readonly maxInflightSends = 1
  readonly #config: KafkaConfig
  readonly #options: KafkaSinkOptions
  readonly #log: Logger
  readonly #closing = new AbortController()
  readonly #failureLogs = new RateLimit(10_000)
  readonly #deadLetters: SinkDeadLetters
  #kafka: KafkaModule | undefined
  #messages: ProduceMessages | undefined
  #client: BaseOptions | undefined
  #admin: Admin | undefined
  #producer: Producer | undefined
  #topics: Topics | undefined
  #requestBytes: number
  #tail: Promise<void> = Promise.resolve()
  /** Clients being closed (a stop closes them without waiting); `close()` waits for them. */
  #disconnecting: Promise<unknown> = Promise.resolve()
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
      const client = await kafkaClientOptions(this.#config, this.#options)
      brokers = client.brokers
      this.#client = client.options
      this.#kafka = await loadKafkaClient()
      this.#messages = new ProduceMessages(this.#kafka.compatibilityPartitioner)
    } catch (error) {
      throw connectFailure(error, this.#config, brokers, Date.now() - started)
    }
    this.#topics = new Topics(() => this.#adminClient(), this.#options.topicPartitions, this.#log)
    const backoff = new Backoff({ initialRetryTime: 200, maxRetryTime: 2_000 })
    // What the brokers last said (a refused certificate, say) explains more than a later attempt cut short
    // by the deadline: that is what start() reports when time runs out.
    let lastAnswer: FactlibError | undefined
    const noAnswer = new Set<Error>()
    for (;;) {
      const remaining = started + timeoutMs - Date.now()
      try {
        // The client connects on first use: metadata proves the brokers answer and accept the credentials,
        // a producer id that the principal may produce idempotently.
        await withTimeout(
          (async () => {
            await this.#adminClient().metadata({ topics: [] })
            await this.#producerClient().initIdempotentProducer({})
          })(),
          remaining,
          () => {
            const timeout = new Error(`no answer within ${Math.max(0, Math.round(remaining))} ms`)
            noAnswer.add(timeout)
            return timeout
          },
        )
        break
      } catch (error) {
        const answered = !(error instanceof Error && noAnswer.has(error))
        const failure =
          !answered && lastAnswer
            ? lastAnswer
            : connectFailure(error, this.#config, brokers, Date.now() - started)
        if (answered) lastAnswer = failure
        const delay = backoff.next()
        if (failure.code !== 'KAFKA_UNREACHABLE' || Date.now() - started + delay >= timeoutMs) {
          await this.#disconnect()
          this.#state = 'closed'
          this.#log.error('cannot connect to Kafka', { code: failure.code, error: failure.message })
          throw failure
        }
        this.#log.warn('Kafka is not reachable yet; retrying', { brokers, error: failure.message })
        // A client whose answer timed out may still be waiting: start over with fresh ones.
        await this.#disconnect()
        await sleep(delay)
      }
    }
    this.#state = 'started'
    this.#log.info('connected to Kafka', {
      brokers,
      tls: this.#config.tls,
      sasl: this.#config.sasl ?? 'none',
      compression: this.#config.compression,
    })
  }

  send(records: SinkRecord[], signal: AbortSignal): Promise<SendResult> {
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
    if (this.#state === 'closed' && !this.#client) return
    this.#closing.abort()
    await this.#tail
    this.#state = 'closed'
    await this.#disconnect()
    this.#client = undefined
  }

  async #deliver(records: SinkRecord[], signal: AbortSignal): Promise<SendResult> {
    if (this.#state !== 'started')
      throw new FactlibError(
        this.#state === 'new' ? 'SINK_NOT_STARTED' : 'SINK_CLOSED',
        `the Kafka sink is ${this.#state === 'new' ? 'not started: call start() first' : 'closed'}`,
      )
    // Not AbortSignal.any: it keeps a reference per call on the long-lived signals. The client takes no
    // signal: closing its connections settles the attempt under way at once.
    const stopping = new AbortController()
    const stop = () => {
      stopping.abort()
      void this.#disconnect()
    }
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
    const stopped = () =>
      signal.aborted ? signal.reason : new FactlibError('SINK_CLOSED', 'the Kafka sink was closed')
    while (pending.length > 0) {
      if (stop.aborted) throw stopped()
      const chunk = pending[0] as SinkRecord[]
      const outcome = await this.#attempt(chunk)
      if (outcome === 'acknowledged') {
        pending.shift()
        backoff.reset()
        this.#failing = undefined
        this.#deadLetters.report(chunk, [], deadLettered)
        continue
      }
      if (Array.isArray(outcome)) {
        pending.splice(0, 1, outcome)
        continue
      }
      // A failure of our own making: the clients were closed to stop.
      if (stop.aborted) throw stopped()
      const { error, failure, unacknowledged } = outcome
      this.#options.onProduceError?.(failure.kind, error)
      this.#logFailure(chunk, failure, error, backoff.attempts)
      if (failure.action === 'bug') throw error
      if (unacknowledged.length < chunk.length) {
        // What the failed send appended stays; only the rest is sent again.
        this.#deadLetters.report(chunk, unacknowledged, deadLettered)
        if (unacknowledged.length === 0) {
          pending.shift()
          continue
        }
        pending[0] = unacknowledged
      }
      if (failure.action === 'split') {
        if (unacknowledged.length > 1) {
          const { halves, requestBytes } = splitRequest(unacknowledged, this.#requestBytes)
          pending.splice(0, 1, ...halves)
          this.#requestBytes = requestBytes
          continue
        }
        const letter = this.#deadLetters.next(unacknowledged[0] as SinkRecord, failure)
        if (letter) {
          pending[0] = [letter]
          continue
        }
      }
      this.#failing =
        failure.hint ?? `producing to Kafka fails (${failure.kind}: ${errorSummary(error)}); retrying`
      if (failure.action === 'recreate') await this.#recreateProducer(failure.kind)
      if (failure.action === 'recheck_topics') {
        this.#topics?.forget(chunk.map((record) => record.topic))
        this.#producer?.clearMetadata()
      }
      await sleep(backoff.next(), stop)
    }
    return { deadLettered }
  }

  /**
   * One try at a chunk: topics made to exist, then one `send`. Never throws. A failure says which records
   * are still unacknowledged, in order: those of the partitions the send did not append.
   */
  async #attempt(
    chunk: SinkRecord[],
  ): Promise<
    'acknowledged' | SinkRecord[] | { error: unknown; failure: ProduceFailure; unacknowledged: SinkRecord[] }
  > {
    let messages: MessageToProduce[] = []
    let counts = new Map<string, number>()
    let producer: Producer | undefined
    try {
      const topics = this.#topics as Topics
      const names = new Set(chunk.map((record) => record.topic))
      const invalid = await topics.ensure(names)
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
      producer = this.#producerClient()
      // The client's cached metadata (refreshed every 5 s): the partition counts it will use itself.
      const { topics: known } = await producer.metadata({ topics: [...names] })
      counts = new Map([...known].map(([topic, metadata]) => [topic, metadata.partitionsCount]))
      messages = (this.#messages as ProduceMessages).of(chunk, (topic) => counts.get(topic))
      await producer.send({ messages })
      return 'acknowledged'
    } catch (error) {
      const failure = classifyProduceError(error)
      if (error instanceof FactlibError && error.code === 'KAFKA_DLQ_INVALID') failure.hint = error.message
      const appended = appendedPartitions(error)
      // A partition is trusted only if the client still counts the topic's partitions as we did.
      const metadata = producer?.currentMetadata?.topics
      const unacknowledged = chunk.filter((_, index) => {
        const message = messages[index]
        if (message?.partition === undefined) return true
        if (metadata?.get(message.topic)?.partitionsCount !== counts.get(message.topic)) return true
        return !appended.has(partitionKey(message.topic, message.partition))
      })
      return { error, failure, unacknowledged }
    }
  }

  #adminClient(): Admin {
    // Short retries of its own: the sink's loop retries around them, where a stop is seen.
    const { Admin } = this.#kafka as KafkaModule
    this.#admin ??= new Admin({ ...(this.#client as BaseOptions), retries: 1, retryDelay: 100 })
    return this.#admin
  }

  #producerClient(): Producer {
    this.#producer ??= createProducer(this.#kafka as KafkaModule, this.#client as BaseOptions, {
      compression: this.#config.compression,
      produceTimeoutMs:
        this.#options.produceTimeoutMs ??
        Math.min(10_000, Math.floor((((this.#client as BaseOptions).requestTimeout ?? 15_000) * 2) / 3)),
    })
    return this.#producer
  }

  async #recreateProducer(kind: string): Promise<void> {
    this.#log.warn('recreating the Kafka producer; unacknowledged records are sent again in order', { kind })
    const old = this.#producer
    this.#producer = undefined
    await old
      ?.close()
      .catch((error: unknown) => this.#log.debug('closing the old producer failed', { error }))
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
      error: errorSummary(error),
      ...(suppressed ? { suppressed } : {}),
    }
    if (failure.hint) this.#log.error(`producing to Kafka fails: ${failure.hint}`, fields)
    else this.#log.warn('producing to Kafka failed; retrying', fields)
  }

  /** Close both clients; the next use makes new ones. Resolves once every close begun so far has ended. */
  async #disconnect(): Promise<void> {
    const quietly = (what: string) => (error: unknown) =>
      this.#log.debug(`closing the ${what} failed`, { error })
    const [producer, admin] = [this.#producer, this.#admin]
    this.#producer = undefined
    this.#admin = undefined
    this.#disconnecting = Promise.all([
      this.#disconnecting,
      producer?.close().catch(quietly('producer')),
      admin?.close().catch(quietly('admin client')),
    ])
    await this.#disconnecting
  }
}
