import { createRequire } from 'node:module'
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs'
import { describe, expect, test } from 'vitest'
import { classifyProduceError } from '../src/sinks/kafka/errors.js'
import { TopicRefusedError } from '../src/sinks/kafka/topics.js'

// kafkajs' own constructor of broker errors, as its response parsers use it.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error
}

/** How kafkajs hands a broker error to `sendBatch`'s caller after its retrier gave up. */
const asKafkajsThrowsIt = (error: Error, retriable: boolean): Error => {
  const Wrapper = (retriable ? KafkaJSNumberOfRetriesExceeded : KafkaJSNonRetriableError) as unknown as new (
    e: Error,
    options: object,
  ) => Error
  return new Wrapper(error, { cause: error, retryCount: 1, retryTime: 100 })
}

describe('classifyProduceError', () => {
  test.each([
    // Sequence and producer-state errors: a new producer, everything unacknowledged again, in order.
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'recreate'],
    [46, 'DUPLICATE_SEQUENCE_NUMBER', 'recreate'],
    [59, 'UNKNOWN_PRODUCER_ID', 'recreate'],
    [47, 'INVALID_PRODUCER_EPOCH', 'recreate'],
    [49, 'INVALID_PRODUCER_ID_MAPPING', 'recreate'],
    // Too large: split; only a single record is dead-lettered.
    [10, 'MESSAGE_TOO_LARGE', 'split'],
    [18, 'RECORD_LIST_TOO_LARGE', 'split'],
    [17, 'INVALID_TOPIC_EXCEPTION', 'split'],
    [3, 'UNKNOWN_TOPIC_OR_PARTITION', 'recheck_topics'],
    // Everything else waits and tries again; never a dead letter.
    [6, 'NOT_LEADER_FOR_PARTITION', 'retry'],
    [5, 'LEADER_NOT_AVAILABLE', 'retry'],
    [19, 'NOT_ENOUGH_REPLICAS', 'retry'],
    [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'retry'],
    [7, 'REQUEST_TIMED_OUT', 'retry'],
    [2, 'CORRUPT_MESSAGE', 'retry'],
    [87, 'INVALID_RECORD', 'retry'],
    [29, 'TOPIC_AUTHORIZATION_FAILED', 'retry'],
    [31, 'CLUSTER_AUTHORIZATION_FAILED', 'retry'],
  ])('broker error %i %s → %s, however kafkajs wraps it', (code, type, action) => {
    const error = createErrorFromCode(code)
    for (const thrown of [error, asKafkajsThrowsIt(error, true), asKafkajsThrowsIt(error, false)]) {
      const failure = classifyProduceError(thrown)
      expect(failure).toMatchObject({ action, kind: type.toLowerCase() })
    }
  })

  test('too large and invalid topic say which dead-letter reason a single record gets', () => {
    expect(classifyProduceError(createErrorFromCode(10)).deadLetterReason).toBe('too_large')
    expect(classifyProduceError(createErrorFromCode(17)).deadLetterReason).toBe('invalid_topic')
  })

  test('authorization failures carry a hint naming the missing permission (the sink reports not ready)', () => {
    expect(classifyProduceError(createErrorFromCode(29)).hint).toContain('kafka-cluster:WriteData')
    expect(classifyProduceError(createErrorFromCode(31)).hint).toContain(
      'kafka-cluster:WriteDataIdempotently',
    )
    expect(
      classifyProduceError(
        new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)('bad token'),
      ),
    ).toMatchObject({
      action: 'retry',
      kind: 'sasl_authentication',
      hint: expect.stringContaining('KAFKA_SASL'),
    })
    const refused = new TopicRefusedError(
      'shop.order',
      'cannot create topic "shop.order"',
      createErrorFromCode(29),
    )
    expect(classifyProduceError(refused)).toEqual({
      action: 'retry',
      kind: 'topic_refused',
      hint: 'cannot create topic "shop.order"',
    })
  })

  test('client-side failures are retried with a stable kind; programming errors are not retried', () => {
    const connection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'b:9092',
    })
    expect(classifyProduceError(asKafkajsThrowsIt(connection, true))).toEqual({
      action: 'retry',
      kind: 'connection',
    })
    expect(classifyProduceError(new KafkaJSRequestTimeoutError('Request Produce timed out'))).toEqual({
      action: 'retry',
      kind: 'request_timeout',
    })
    expect(classifyProduceError(new Error('something else'))).toEqual({ action: 'retry', kind: 'other' })
    // Codes newer than kafkajs 2.2.4 knows (it knows up to 88) are retried, never dead-lettered.
    expect(classifyProduceError(createErrorFromCode(120))).toEqual({
      action: 'retry',
      kind: 'kafkajs_unknown_error_code',
    })
    expect(classifyProduceError(new TypeError('value.buffer is undefined'))).toEqual({
      action: 'bug',
      kind: 'bug',
    })
  })
})
