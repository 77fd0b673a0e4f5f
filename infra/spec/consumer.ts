import type { MskResource } from './kafka.js'
import type { RelaySpec } from './spec.js'

/**
 * Where Lambda sends what it gave up on (after the retries, or past the maximum record age): a metadata
 * record naming the topic, partition and offsets, so the facts can be read again from Kafka. By default a new
 * SQS queue `<name>-failed` (14 days of retention); or an existing SQS queue, SNS topic or S3 bucket by ARN
 * (S3 also gets the whole batch), or a Kafka topic of the same cluster.
 */
export type OnFailureOptions<V = string> = { sqs: V } | { sns: V } | { s3: V } | { kafka: string }

/**
 * A Lambda function subscribed to one fact topic of the relay's MSK cluster. Every field but `name` and
 * `topic` has the recommended default.
 *
 * @example
 * ```ts
 * const options: ConsumerOptions = { name: 'orders-projection', topic: 'orders.Order' }
 * ```
 */
export interface ConsumerOptions<V = string> {
  /** The consumer's name: its Kafka consumer group id and the prefix of its failure queue. */
  name: string
  /** The fact topic, `{source}.{aggregateType}` by the relay's default template, e.g. `orders.Order`. */
  topic: string
  /** Records per invocation at most. @default 100 */
  batchSize?: number
  /** Seconds Lambda may gather records before invoking (0–300). @default Lambda's own */
  maximumBatchingWindowSeconds?: number
  /** Where a new consumer group starts. @default 'TRIM_HORIZON': the oldest record kept, so no fact is missed */
  startingPosition?: 'TRIM_HORIZON' | 'LATEST'
  /**
   * Retries of a failed batch before it goes to `onFailure` (0–10000). Lambda's own default, -1, retries for
   * ever: one poison fact then blocks its partition. @default 10
   */
  retryAttempts?: number
  /** Records older than this (60–604800 s) go to `onFailure` unprocessed. @default none: a fact is never skipped for its age */
  maximumRecordAgeSeconds?: number
  /** Split a failed batch in two and retry each half. @default false (partial batch responses do it better) */
  bisectOnError?: boolean
  /** The function reports the records that failed (`batchItemFailures`), and only those are retried. @default true */
  reportBatchItemFailures?: boolean
  /** @default a new SQS queue `<name>-failed` */
  onFailure?: OnFailureOptions<V>
  /**
   * Provisioned mode's event pollers (each handles up to 5 MB/s or 5 concurrent invocations). Provisioned mode is
   * what makes the retry and failure settings above available to a Kafka event source. @default 1 to 2
   */
  pollers?: { minimum?: number; maximum?: number }
}

/** Where a consumer statement applies: in the MSK cluster, anywhere (`*`), or the failure destination. */
export type ConsumerResource = MskResource | { kind: 'any' } | { kind: 'onFailure'; suffix?: string }

/** One statement of the consumer function's execution role. */
export interface ConsumerStatement {
  actions: string[]
  resource: ConsumerResource
}

/** The resolved failure destination. */
export type OnFailureSpec<V = string> =
  | { kind: 'queue'; queueName: string; retentionSeconds: number }
  | { kind: 'sqs' | 'sns' | 's3'; arn: V }
  | { kind: 'kafka'; topic: string; destination: string }

/** A consumer's event source mapping and IAM as plain data; the front-ends only translate it. */
export interface ConsumerSpec<V = string> {
  name: string
  /** The relay's MSK cluster, the mapping's event source. */
  clusterArn: V
  topic: string
  consumerGroupId: string
  batchSize: number
  maximumBatchingWindowSeconds: number | undefined
  startingPosition: 'TRIM_HORIZON' | 'LATEST'
  maximumRetryAttempts: number
  maximumRecordAgeSeconds: number | undefined
  bisectBatchOnFunctionError: boolean
  functionResponseTypes: 'ReportBatchItemFailures'[]
  /** Provisioned mode: the retry limit, record age, bisect and partial batch responses need it. */
  provisionedPollers: { minimum: number; maximum: number }
  onFailure: OnFailureSpec<V>
  /**
   * AWS services the event source mapping calls from the cluster's subnets, which reach them through a NAT
   * gateway or these VPC interface endpoints: Lambda and STS, and the failure destination's service.
   */
  endpointServices: string[]
  iam: ConsumerStatement[]
}

const FAILED_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600

/**
 * Build and check a consumer of the relay's facts: every refusal names the option and says why.
 *
 * @example
 * ```ts
 * const relay = relaySpec({ sources: ['orders'], kafka: { kind: 'msk-iam', clusterArn } })
 * const consumer = consumerSpec(relay, { name: 'orders-projection', topic: 'orders.Order' })
 * consumer.maximumRetryAttempts // 10
 * consumer.onFailure // { kind: 'queue', queueName: 'orders-projection-failed', … }
 * ```
 */
export function consumerSpec<V>(relay: RelaySpec<V>, options: ConsumerOptions<V>): ConsumerSpec<V> {
  if (relay.kafka.kind !== 'msk-iam')
    throw new Error(
      'consumer: the relay writes to plain Kafka brokers; a Lambda event source here needs its MSK cluster',
    )
  const { name, topic } = options
  if (!/^[A-Za-z0-9_-]{1,72}$/.test(name ?? ''))
    throw new Error(
      `consumer name ${JSON.stringify(name)}: use 1 to 72 of A-Z, a-z, 0-9, _ and - (it is the consumer group id and names the failure queue)`,
    )
  if (!isTopicName(topic))
    throw new Error(
      `consumer topic ${JSON.stringify(topic)}: not a Kafka topic name (A-Z, a-z, 0-9, ., _ and -, at most 249)`,
    )
  const written = writtenTopics(relay)
  if (!written.some((pattern) => globMatches(pattern, topic)))
    throw new Error(
      `consumer topic ${topic}: the relay does not write it (it writes ${written.join(', ')}); check the source and aggregate type`,
    )

  const batchSize = options.batchSize ?? 100
  integer('batchSize', batchSize, 1, 10_000)
  const window = options.maximumBatchingWindowSeconds
  if (window !== undefined) integer('maximumBatchingWindowSeconds', window, 0, 300)
  const startingPosition = options.startingPosition ?? 'TRIM_HORIZON'
  if (startingPosition !== 'TRIM_HORIZON' && startingPosition !== 'LATEST')
    throw new Error(
      `consumer startingPosition ${JSON.stringify(startingPosition)}: expected TRIM_HORIZON or LATEST`,
    )
  const retryAttempts = options.retryAttempts ?? 10
  if (retryAttempts === -1)
    throw new Error(
      'consumer retryAttempts -1: retrying for ever lets one fact that always fails block its partition; set a limit (the default is 10) and read the failures from onFailure',
    )
  integer('retryAttempts', retryAttempts, 0, 10_000)
  const age = options.maximumRecordAgeSeconds
  if (age !== undefined) integer('maximumRecordAgeSeconds', age, 60, 604_800)
  const minimum = options.pollers?.minimum ?? 1
  const maximum = options.pollers?.maximum ?? Math.max(2, minimum)
  integer('pollers.minimum', minimum, 1, 200)
  integer('pollers.maximum', maximum, 1, 2000)
  if (minimum > maximum) throw new Error(`consumer pollers: minimum ${minimum} is above maximum ${maximum}`)

  const onFailure = onFailureSpec(name, topic, options.onFailure)
  return {
    name,
    clusterArn: relay.kafka.clusterArn,
    topic,
    consumerGroupId: name,
    batchSize,
    maximumBatchingWindowSeconds: window,
    startingPosition,
    maximumRetryAttempts: retryAttempts,
    maximumRecordAgeSeconds: age,
    bisectBatchOnFunctionError: options.bisectOnError ?? false,
    functionResponseTypes: (options.reportBatchItemFailures ?? true) ? ['ReportBatchItemFailures'] : [],
    provisionedPollers: { minimum, maximum },
    onFailure,
    endpointServices: ['lambda', 'sts', ...destinationService(onFailure)],
    iam: consumerStatements(topic, name, onFailure),
  }
}

/**
 * The event source mapping's settings with the names CloudFormation (in the CDK's camelCase) and Pulumi both
 * give them; the front-ends add the function and the failure destination.
 */
export function mappingSettings<V>(spec: ConsumerSpec<V>) {
  return {
    eventSourceArn: spec.clusterArn,
    topics: [spec.topic],
    amazonManagedKafkaEventSourceConfig: { consumerGroupId: spec.consumerGroupId },
    startingPosition: spec.startingPosition,
    batchSize: spec.batchSize,
    ...(spec.maximumBatchingWindowSeconds === undefined
      ? {}
      : { maximumBatchingWindowInSeconds: spec.maximumBatchingWindowSeconds }),
    maximumRetryAttempts: spec.maximumRetryAttempts,
    ...(spec.maximumRecordAgeSeconds === undefined
      ? {}
      : { maximumRecordAgeInSeconds: spec.maximumRecordAgeSeconds }),
    bisectBatchOnFunctionError: spec.bisectBatchOnFunctionError,
    functionResponseTypes: spec.functionResponseTypes,
    provisionedPollerConfig: {
      minimumPollers: spec.provisionedPollers.minimum,
      maximumPollers: spec.provisionedPollers.maximum,
    },
  }
}

/**
 * The execution role's statements: connect to the cluster and find its brokers, read the topic, join and
 * commit as the group, the network interfaces of the cluster's subnets, and write to the failure destination.
 */
function consumerStatements<V>(
  topic: string,
  group: string,
  onFailure: OnFailureSpec<V>,
): ConsumerStatement[] {
  return [
    {
      actions: [
        'kafka-cluster:Connect',
        'kafka-cluster:DescribeClusterDynamicConfiguration',
        'kafka:DescribeClusterV2',
        'kafka:GetBootstrapBrokers',
      ],
      resource: { kind: 'cluster' },
    },
    {
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      resource: { kind: 'topics', patterns: [topic] },
    },
    {
      actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      resource: { kind: 'groups', names: [group] },
    },
    {
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeVpcs',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      resource: { kind: 'any' },
    },
    ...destinationStatements(onFailure),
  ]
}

function destinationStatements<V>(onFailure: OnFailureSpec<V>): ConsumerStatement[] {
  switch (onFailure.kind) {
    case 'queue':
    case 'sqs':
      return [{ actions: ['sqs:SendMessage'], resource: { kind: 'onFailure' } }]
    case 'sns':
      return [{ actions: ['sns:Publish'], resource: { kind: 'onFailure' } }]
    case 's3':
      return [
        { actions: ['s3:ListBucket'], resource: { kind: 'onFailure' } },
        { actions: ['s3:PutObject'], resource: { kind: 'onFailure', suffix: '/*' } },
      ]
    case 'kafka':
      return [
        {
          actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
          resource: { kind: 'topics', patterns: [onFailure.topic] },
        },
      ]
  }
}

function destinationService<V>(onFailure: OnFailureSpec<V>): string[] {
  if (onFailure.kind === 'kafka') return []
  return [onFailure.kind === 'queue' ? 'sqs' : onFailure.kind]
}

function onFailureSpec<V>(
  name: string,
  topic: string,
  options: OnFailureOptions<V> | undefined,
): OnFailureSpec<V> {
  if (options === undefined)
    return { kind: 'queue', queueName: `${name}-failed`, retentionSeconds: FAILED_QUEUE_RETENTION_SECONDS }
  const kinds = Object.keys(options)
  if (kinds.length !== 1 || !['sqs', 'sns', 's3', 'kafka'].includes(kinds[0] as string))
    throw new Error(
      `consumer onFailure: expected one of { sqs }, { sns }, { s3 } or { kafka }, got { ${kinds.join(', ')} }`,
    )
  if ('kafka' in options) {
    if (!isTopicName(options.kafka))
      throw new Error(`consumer onFailure.kafka ${JSON.stringify(options.kafka)}: not a Kafka topic name`)
    if (options.kafka === topic)
      throw new Error(
        `consumer onFailure.kafka ${topic}: the failure topic cannot be the topic consumed (Lambda refuses the loop)`,
      )
    return { kind: 'kafka', topic: options.kafka, destination: `kafka://${options.kafka}` }
  }
  if ('sqs' in options) return { kind: 'sqs', arn: options.sqs }
  if ('sns' in options) return { kind: 'sns', arn: options.sns }
  return { kind: 's3', arn: options.s3 }
}

/** The topic patterns the relay's own IAM statements allow it to write. */
function writtenTopics<V>(relay: RelaySpec<V>): string[] {
  return relay.iam.flatMap((statement) =>
    statement.resource.kind === 'topics' && statement.actions.includes('kafka-cluster:WriteData')
      ? statement.resource.patterns
      : [],
  )
}

function globMatches(pattern: string, topic: string): boolean {
  const source = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')
  return new RegExp(`^${source}$`).test(topic)
}

function isTopicName(topic: unknown): topic is string {
  return typeof topic === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(topic) && topic !== '.' && topic !== '..'
}

function integer(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`consumer ${option} ${value}: expected an integer from ${min} to ${max}`)
}
