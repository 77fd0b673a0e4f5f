import { FactlibError } from '@factlib/emit'
import { grantHint } from './permissions.js'

/**
 * What the Kafka sink does after a failed produce attempt. kafkajs' own `retriable` flag is not used:
 * it calls sequence and size errors non-retriable, and dead-lettering on that basis would lose valid facts.
 */
export type ProduceAction =
  /** Wait (backoff) and send the same records again with the same producer. */
  | 'retry'
  /** Disconnect, create a new producer (new producer id) and resend every unacknowledged record in order. */
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

const PERMISSION_HINTS: Record<string, string> = {
  TOPIC_AUTHORIZATION_FAILED: `the Kafka principal may not write to the topic: ${grantHint(['write', 'describeTopic'])}`,
  CLUSTER_AUTHORIZATION_FAILED: `the Kafka principal may not produce idempotently: ${grantHint(['writeIdempotently'])}`,
  SASL_AUTHENTICATION_FAILED:
    'Kafka refused the credentials: check KAFKA_SASL, KAFKA_USERNAME, KAFKA_PASSWORD (or the IAM role)',
}

/** The innermost error that says what happened: kafkajs wraps the broker's error in retry errors. */
export function rootCause(error: unknown): unknown {
  let current = error
  for (let depth = 0; depth < 8; depth++) {
    if (kafkaErrorType(current) !== undefined || !(current instanceof Error)) return current
    const { cause } = current
    if (!(cause instanceof Error) || cause === current) return current
    current = cause
  }
  return current
}

/** Kafka's error name (`MESSAGE_TOO_LARGE`) when the error is a broker error, else undefined. */
export function kafkaErrorType(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('type' in error)) return undefined
  return typeof error.type === 'string' && /^[A-Z_]+$/.test(error.type) ? error.type : undefined
}

/**
 * Decide what to do after `producer.sendBatch` rejected.
 *
 * @example
 * ```ts
 * classifyProduceError(error) // { action: 'split', kind: 'message_too_large', deadLetterReason: 'too_large' }
 * ```
 */
export function classifyProduceError(error: unknown): ProduceFailure {
  if (error instanceof FactlibError && error.code === 'KAFKA_TOPIC_REFUSED')
    return { action: 'retry', kind: 'topic_refused', hint: error.message }
  const root = rootCause(error)
  const type = kafkaErrorType(root)
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
  const name = root instanceof Error ? root.name : typeof root
  if (PROGRAMMING_ERRORS.has(name)) return { action: 'bug', kind: 'bug' }
  switch (name) {
    case 'KafkaJSConnectionError':
    case 'KafkaJSConnectionClosedError':
      return { action: 'retry', kind: 'connection' }
    case 'KafkaJSRequestTimeoutError':
      return { action: 'retry', kind: 'request_timeout' }
    case 'KafkaJSMetadataNotLoaded':
    case 'KafkaJSTopicMetadataNotLoaded':
    case 'KafkaJSStaleTopicMetadataAssignment':
    case 'KafkaJSBrokerNotFound':
    case 'KafkaJSNoBrokerAvailableError':
      return { action: 'retry', kind: 'metadata' }
    case 'KafkaJSLockTimeout':
      return { action: 'retry', kind: 'lock_timeout' }
    case 'KafkaJSSASLAuthenticationError':
      return {
        action: 'retry',
        kind: 'sasl_authentication',
        hint: PERMISSION_HINTS.SASL_AUTHENTICATION_FAILED,
      }
    default:
      return { action: 'retry', kind: 'other' }
  }
}
