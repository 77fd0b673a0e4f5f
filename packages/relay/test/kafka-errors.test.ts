import { FactlibError } from '@factlib/emit'
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ResponseError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka'
import { describe, expect, test } from 'vitest'
import type { KafkaConfig } from '../src/config/config.js'
import { appendedPartitions } from '../src/sinks/kafka/appended.js'
import { connectFailure, KafkaConnectError } from '../src/sinks/kafka/connect-failure.js'
import { classifyProduceError } from '../src/sinks/kafka/errors.js'
import { grantHint, mskIamActions } from '../src/sinks/kafka/permissions.js'
import { TopicRefusedError } from '../src/sinks/kafka/topics.js'

/** A broker's error code in an answer, as the client's response parsers report it (Produce v11, one partition). */
const brokerError = (code: number, said: string | null = null): Error =>
  new ResponseError(0, 11, { '/responses/0/partitionResponses/0': [code, said] }, {})

/** How `producer.send` rejects: a MultipleErrors per send, around the attempts, or around the brokers. */
const asTheClientThrowsIt = (error: Error, attempts: number): Error =>
  attempts === 1
    ? new MultipleErrors('Producing messages failed.', [error])
    : new MultipleErrors(
        `produce failed ${attempts} times.`,
        Array.from({ length: attempts }, () => error),
      )

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
    [6, 'NOT_LEADER_OR_FOLLOWER', 'retry'],
    [5, 'LEADER_NOT_AVAILABLE', 'retry'],
    [19, 'NOT_ENOUGH_REPLICAS', 'retry'],
    [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'retry'],
    [7, 'REQUEST_TIMED_OUT', 'retry'],
    [2, 'CORRUPT_MESSAGE', 'retry'],
    [87, 'INVALID_RECORD', 'retry'],
    [29, 'TOPIC_AUTHORIZATION_FAILED', 'retry'],
    [31, 'CLUSTER_AUTHORIZATION_FAILED', 'retry'],
  ])('broker error %i %s → %s, however the client wraps it', (code, type, action) => {
    const error = brokerError(code)
    for (const thrown of [error, asTheClientThrowsIt(error, 1), asTheClientThrowsIt(error, 3)]) {
      const failure = classifyProduceError(thrown)
      expect(failure).toMatchObject({ action, kind: type.toLowerCase() })
    }
  })

  test('too large and invalid topic say which dead-letter reason a single record gets', () => {
    expect(classifyProduceError(brokerError(10)).deadLetterReason).toBe('too_large')
    expect(classifyProduceError(brokerError(17)).deadLetterReason).toBe('invalid_topic')
  })

  test('authorization failures carry a hint naming the missing permission (the sink reports not ready)', () => {
    expect(classifyProduceError(brokerError(29)).hint).toContain('kafka-cluster:WriteData')
    expect(classifyProduceError(brokerError(31)).hint).toContain('kafka-cluster:WriteDataIdempotently')
    // A connection whose SASL exchange failed: the client's AuthenticationError is the NetworkError's cause.
    const refused = new NetworkError('Connection to b:9096 failed.', {
      cause: new AuthenticationError('SASL authentication failed.', { cause: brokerError(58, 'bad token') }),
    })
    expect(classifyProduceError(asTheClientThrowsIt(refused, 3))).toMatchObject({
      action: 'retry',
      kind: 'sasl_authentication',
      hint: expect.stringContaining('KAFKA_SASL'),
    })
    const topicRefused = new TopicRefusedError(
      'shop.order',
      'cannot create topic "shop.order"',
      brokerError(29),
    )
    expect(classifyProduceError(topicRefused)).toEqual({
      action: 'retry',
      kind: 'topic_refused',
      hint: 'cannot create topic "shop.order"',
    })
  })

  test('client-side failures are retried with a stable kind; programming errors are not retried', () => {
    const connection = new NetworkError('Connection to b:9092 failed.', {
      cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9092'), { code: 'ECONNREFUSED' }),
    })
    expect(classifyProduceError(asTheClientThrowsIt(connection, 3))).toEqual({
      action: 'retry',
      kind: 'connection',
    })
    // The client's TimeoutError carries the network code too; its kind says more.
    expect(classifyProduceError(new TimeoutError('Request timed out', { canRetry: true }))).toEqual({
      action: 'retry',
      kind: 'request_timeout',
    })
    expect(classifyProduceError(new Error('something else'))).toEqual({ action: 'retry', kind: 'other' })
    // A broker error the sink has no rule for is retried under its own name, never dead-lettered.
    expect(classifyProduceError(brokerError(127))).toEqual({ action: 'retry', kind: 'voter_not_found' })
    expect(classifyProduceError(new TypeError('value.buffer is undefined'))).toEqual({
      action: 'bug',
      kind: 'bug',
    })
  })

  test('a topic the client found missing (it reports that only as text) is checked again', () => {
    const missing = new MultipleErrors('Producing messages failed.', [new UserError('Unknown topic shop.x.')])
    expect(classifyProduceError(missing)).toEqual({
      action: 'recheck_topics',
      kind: 'unknown_topic_or_partition',
    })
  })
})

describe('appendedPartitions: what a failed send still appended', () => {
  test("the answering brokers' offsets, and the partitions a refusing answer acknowledged", () => {
    const response = {
      responses: [
        {
          name: 'shop.order',
          partitionResponses: [
            { index: 0, errorCode: 0, baseOffset: 41n },
            { index: 1, errorCode: 10, baseOffset: -1n },
          ],
        },
      ],
    }
    const refused = new ResponseError(0, 11, { '/responses/0/partitionResponses/1': [10, null] }, response)
    const error = Object.assign(new MultipleErrors('Producing messages failed.', [refused]), {
      produced: { offsets: [{ topic: 'shop.user', partition: 2, offset: 7n }] },
    })
    expect([...appendedPartitions(error)].sort()).toEqual(['shop.order:0', 'shop.user:2'])
    expect(appendedPartitions(new Error('connect ECONNREFUSED')).size).toBe(0)
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
    compression: 'none',
  }
  const systemError = (message: string, code: string) => Object.assign(new Error(message), { code })

  test('refused credentials: KAFKA_AUTH naming the user, never the password', () => {
    const failure = connectFailure(
      new MultipleErrors('Cannot connect to any broker.', [
        new NetworkError('Connection to b-1:9096 failed.', {
          cause: new AuthenticationError('SASL authentication failed.', {
            cause: brokerError(58, 'Authentication failed for hunter2-secret'),
          }),
        }),
      ]),
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
    const failure = connectFailure(brokerError(58), { ...config, sasl: 'iam' }, ['b-1:9098'], 0)
    expect(failure).toMatchObject({
      problem: 'sasl_authentication',
      fix: expect.stringContaining('kafka-cluster:Connect'),
    })
  })

  test('an authorization refusal names the grants; TLS and network failures are KAFKA_UNREACHABLE, retriable', () => {
    expect(connectFailure(brokerError(31), config, ['b-1:9096'], 0)).toMatchObject({
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
      [
        new UserError('TLS handshake failed. Please verify the broker supports TLS.'),
        'tls_mismatch',
        'KAFKA_TLS=false',
      ],
      [new UserError('Broker requires TLS.'), 'tls_mismatch', 'KAFKA_TLS=true'],
    ] as const
    // As the client reports them: the connection's own error is the cause of its NetworkError.
    const asConnectionFailure = (cause: Error) =>
      new MultipleErrors('Cannot connect to any broker.', [
        new NetworkError('Connection to b-1:9096 failed.', { cause }),
      ])
    for (const [error, problem, fix] of cases)
      expect(connectFailure(asConnectionFailure(error), config, ['b-1:9096'], 1_500), problem).toMatchObject({
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
