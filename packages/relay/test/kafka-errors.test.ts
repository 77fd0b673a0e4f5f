import { createRequire } from 'node:module'
import { FactlibError } from '@factlib/emit'
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs'
import { describe, expect, test } from 'vitest'
import type { KafkaConfig } from '../src/config/config.js'
import { connectFailure, KafkaConnectError } from '../src/sinks/kafka/connect-failure.js'
import { classifyProduceError } from '../src/sinks/kafka/errors.js'
import { grantHint, mskIamActions } from '../src/sinks/kafka/permissions.js'
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

describe('connectFailure: the parts of a failed connection as fields', () => {
  const config: KafkaConfig = {
    kind: 'kafka',
    brokers: ['b-1:9096'],
    clusterArn: undefined,
    sasl: 'scram-sha-512',
    username: 'relay',
    password: 'hunter2-secret',
    tls: true,
  }
  const systemError = (message: string, code: string) => Object.assign(new Error(message), { code })

  test('refused credentials: KAFKA_AUTH naming the user, never the password', () => {
    const failure = connectFailure(
      new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)(
        'SASL SCRAM SHA512 authentication failed for hunter2-secret',
      ),
      config,
      ['b-1:9096'],
      200,
    )
    expect(failure).toBeInstanceOf(KafkaConnectError)
    expect(failure).toMatchObject({
      name: 'FactlibError',
      code: 'KAFKA_AUTH',
      retriable: false,
      brokers: ['b-1:9096'],
      problem: 'sasl_authentication',
      detail: expect.stringContaining('Kafka at b-1:9096 refused SASL authentication'),
      fix: expect.stringContaining('KAFKA_USERNAME ("relay")'),
    })
    expect(failure.message).toBe(
      `${(failure as KafkaConnectError).detail}: ${(failure as KafkaConnectError).fix}`,
    )
    expect(failure.message).not.toContain('hunter2')
    expect(failure.message).toContain('***')
  })

  test('with MSK IAM, the fix names the IAM action', () => {
    const failure = connectFailure(createErrorFromCode(58), { ...config, sasl: 'iam' }, ['b-1:9098'], 0)
    expect(failure).toMatchObject({
      problem: 'sasl_authentication',
      fix: expect.stringContaining('kafka-cluster:Connect'),
    })
  })

  test('an authorization refusal names the grants; TLS and network failures are KAFKA_UNREACHABLE, retriable', () => {
    expect(connectFailure(createErrorFromCode(31), config, ['b-1:9096'], 0)).toMatchObject({
      code: 'KAFKA_AUTH',
      problem: 'authorization',
      detail: expect.stringContaining('CLUSTER_AUTHORIZATION_FAILED'),
      fix: grantHint(['write', 'writeIdempotently']),
    })
    const cases = [
      [
        systemError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
        'tls_untrusted',
        'NODE_EXTRA_CA_CERTS',
      ],
      [
        systemError('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'),
        'tls_mismatch',
        'KAFKA_TLS=false',
      ],
      [systemError('connect ECONNREFUSED 10.0.0.1:9096', 'ECONNREFUSED'), 'unreachable', 'KAFKA_BROKERS'],
    ] as const
    for (const [error, problem, fix] of cases)
      expect(connectFailure(error, config, ['b-1:9096'], 1_500), problem).toMatchObject({
        code: 'KAFKA_UNREACHABLE',
        retriable: true,
        problem,
        detail: expect.stringMatching(/^Kafka is unreachable at b-1:9096 after 1.5 s \(.+\)$/),
        fix: expect.stringContaining(fix),
      })
  })

  test('a FactlibError inside (a failed broker lookup) is passed through as it is; no brokers names the ARN', () => {
    const lookup = new FactlibError('KAFKA_BROKERS_LOOKUP', 'could not look up the bootstrap brokers')
    expect(connectFailure(new Error('wrapped', { cause: lookup }), config, [], 0)).toBe(lookup)
    const arn = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/x'
    expect(
      connectFailure(new Error('timeout'), { ...config, brokers: [], clusterArn: arn }, [], 0),
    ).toMatchObject({
      brokers: [],
      detail: expect.stringContaining(arn),
    })
  })
})

describe('MSK permissions: one table, rendered for what is missing', () => {
  test('ACLs grouped by resource, then the MSK IAM actions', () => {
    expect(grantHint(['write', 'describeTopic'])).toBe(
      'grant WRITE and DESCRIBE on the topic (MSK IAM: kafka-cluster:WriteData, kafka-cluster:DescribeTopic)',
    )
    expect(grantHint(['write', 'writeIdempotently'])).toBe(
      'grant WRITE on the topic and IDEMPOTENT_WRITE on the cluster (MSK IAM: kafka-cluster:WriteData, kafka-cluster:WriteDataIdempotently)',
    )
    expect(grantHint(['connect'])).toBe('allow MSK IAM: kafka-cluster:Connect')
  })

  test('the relay needs six MSK IAM actions, the ones infra grants its task role', () => {
    expect(mskIamActions().split(', ').sort()).toEqual([
      'kafka-cluster:Connect',
      'kafka-cluster:CreateTopic',
      'kafka-cluster:DescribeCluster',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:WriteData',
      'kafka-cluster:WriteDataIdempotently',
    ])
  })
})
