import { FactlibError } from '@factlib/emit'
import { errorMessage } from '../../util/error-fields.js'
import { grantHint } from './permissions.js'

/**
 * What the Kafka sink does after a failed produce attempt. The client's own `canRetry` flag is not used:
 * it calls sequence and size errors final, and dead-lettering on that basis would lose valid facts.
 */
export type ProduceAction =
  /** Wait (backoff) and send the same records again. */
  | 'retry'
  /** Close the producer, create a new one (new producer id) and resend every unacknowledged record in order. */
  | 'recreate'
  /** Send the records in two halves, in order; a single record goes to the dead-letter topic. */
  | 'split'
  /** The topic is gone or not yet known to the broker answering: check it exists again, then retry. */
  | 'recheck_topics'
  /** A bug (TypeError and friends): retrying cannot help, the send rejects. */
  | 'bug'

export interface ProduceFailure {
  action: ProduceAction
  /** Low-cardinality label for `factlib_produce_errors_total{kind}`: Kafka's error name in lower case, or a class. */
  kind: string
  /** For `split`: why a single record can never be produced. */
  deadLetterReason?: 'too_large' | 'invalid_topic'
  /** Set when only an operator can fix it (permissions, credentials): the sink reports not ready. */
  hint?: string
}

const SEQUENCE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
])
const TOO_LARGE_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])
const PROGRAMMING_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'])
/** `@platformatic/kafka`'s error codes that say what happened on the wire. */
const PROTOCOL = 'PLT_KFK_PROTOCOL'
const AUTHENTICATION = 'PLT_KFK_AUTHENTICATION'
const NETWORK = 'PLT_KFK_NETWORK'

const PERMISSION_HINTS: Record<string, string> = {
  TOPIC_AUTHORIZATION_FAILED: `the Kafka principal may not write to the topic: ${grantHint(['write', 'describeTopic'])}`,
  CLUSTER_AUTHORIZATION_FAILED: `the Kafka principal may not produce idempotently: ${grantHint(['writeIdempotently'])}`,
  SASL_AUTHENTICATION_FAILED:
    'Kafka refused the credentials: check KAFKA_SASL, KAFKA_USERNAME, KAFKA_PASSWORD (or the IAM role)',
}

/**
 * Every error inside `error`, depth first: itself, what it aggregates (`errors`: the client's
 * MultipleErrors per attempt and per broker, ResponseError per partition) and what caused it (`cause`: a
 * connection's SASL or TLS failure). `@platformatic/kafka`'s own `findErrorBy` looks at `errors` only.
 */
export function* errorTree(error: unknown, depth = 0): Generator<Error> {
  if (!(error instanceof Error) || depth > 8) return
  yield error
  if (error instanceof AggregateError) for (const inner of error.errors) yield* errorTree(inner, depth + 1)
  if (error.cause !== error) yield* errorTree(error.cause, depth + 1)
}

/** Kafka's names (`MESSAGE_TOO_LARGE`) of the broker errors inside `error`, in order, once each. */
export function kafkaErrorTypes(error: unknown): string[] {
  const types = new Set<string>()
  for (const inner of errorTree(error))
    if (fieldOf(inner, 'code') === PROTOCOL) {
      const type = fieldOf(inner, 'apiId')
      if (type !== undefined) types.add(type)
    }
  return [...types]
}

/** Kafka's name of the broker error inside `error` that decides what to do; undefined when there is none. */
export function kafkaErrorType(error: unknown): string | undefined {
  const types = kafkaErrorTypes(error)
  return (
    types.find((type) => SEQUENCE_ERRORS.has(type)) ??
    types.find((type) => TOO_LARGE_ERRORS.has(type) || type === 'INVALID_TOPIC_EXCEPTION') ??
    types.find((type) => type in PERMISSION_HINTS) ??
    types[0]
  )
}

/**
 * The innermost error: where the client's wrappers (attempts, brokers, partitions, the connection) end,
 * following the last attempt. What a log line or a doctor's detail should quote.
 */
export function rootCause(error: unknown): unknown {
  let current = error
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const next =
      current instanceof AggregateError && current.errors.length > 0
        ? current.errors[current.errors.length - 1]
        : current.cause
    if (!(next instanceof Error) || next === current) return current
    current = next
  }
  return current
}

/**
 * What went wrong, in words for a log line or a doctor's detail: the broker's error name with its own words,
 * else the innermost error's message (`connect ECONNREFUSED 10.0.0.1:9092`).
 */
export function errorSummary(error: unknown): string {
  const type = kafkaErrorType(error)
  if (type !== undefined) {
    for (const inner of errorTree(error))
      if (fieldOf(inner, 'apiId') === type) {
        const server: unknown = Reflect.get(inner, 'serverErrorMessage')
        return `${type}: ${typeof server === 'string' && server ? server : inner.message}`
      }
  }
  return errorMessage(rootCause(error))
}

/** The first error inside `error` with this `@platformatic/kafka` code (`PLT_KFK_NETWORK`, …). */
export function findByCode(error: unknown, code: string): Error | undefined {
  for (const inner of errorTree(error)) if (fieldOf(inner, 'code') === code) return inner
  return undefined
}

/**
 * Whether the client said a topic does not exist: it turns UNKNOWN_TOPIC_OR_PARTITION in a metadata
 * answer into a UserError whose message is all that is left of it.
 */
function unknownTopic(error: unknown): boolean {
  for (const inner of errorTree(error))
    if (fieldOf(inner, 'code') === 'PLT_KFK_USER' && inner.message.startsWith('Unknown topic ')) return true
  return false
}

/**
 * Decide what to do after `producer.send` rejected.
 *
 * @example
 * ```ts
 * classifyProduceError(error) // { action: 'split', kind: 'message_too_large', deadLetterReason: 'too_large' }
 * ```
 */
export function classifyProduceError(error: unknown): ProduceFailure {
  if (error instanceof FactlibError && error.code === 'KAFKA_TOPIC_REFUSED')
    return { action: 'retry', kind: 'topic_refused', hint: error.message }
  const type = kafkaErrorType(error)
  if (findByCode(error, AUTHENTICATION) || type === 'SASL_AUTHENTICATION_FAILED')
    return {
      action: 'retry',
      kind: 'sasl_authentication',
      hint: PERMISSION_HINTS.SASL_AUTHENTICATION_FAILED,
    }
  if (type !== undefined) {
    const kind = type.toLowerCase()
    if (SEQUENCE_ERRORS.has(type)) return { action: 'recreate', kind }
    if (TOO_LARGE_ERRORS.has(type)) return { action: 'split', kind, deadLetterReason: 'too_large' }
    if (type === 'INVALID_TOPIC_EXCEPTION')
      return { action: 'split', kind, deadLetterReason: 'invalid_topic' }
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return { action: 'recheck_topics', kind }
    const hint = PERMISSION_HINTS[type]
    return hint ? { action: 'retry', kind, hint } : { action: 'retry', kind }
  }
  if (unknownTopic(error)) return { action: 'recheck_topics', kind: 'unknown_topic_or_partition' }
  // Before the network check: the client's TimeoutError carries the code PLT_KFK_NETWORK too. By its
  // class's name, so that reading an error does not load the client.
  for (const inner of errorTree(error))
    if (inner.constructor.name === 'TimeoutError') return { action: 'retry', kind: 'request_timeout' }
  if (findByCode(error, NETWORK)) return { action: 'retry', kind: 'connection' }
  const root = rootCause(error)
  if (root instanceof Error && PROGRAMMING_ERRORS.has(root.name)) return { action: 'bug', kind: 'bug' }
  return { action: 'retry', kind: 'other' }
}

function fieldOf(error: Error, name: 'code' | 'apiId'): string | undefined {
  const value: unknown = Reflect.get(error, name)
  return typeof value === 'string' ? value : undefined
}
