import type { ConfigVariable } from '@factlib/relay/config'
import type { KafkaTarget } from './options.js'

/**
 * What in an MSK cluster an IAM statement covers: the cluster itself, topics matching patterns, or consumer
 * groups by name.
 */
export type MskResource =
  | { kind: 'cluster' }
  | { kind: 'topics'; patterns: string[] }
  | { kind: 'groups'; names: string[] }

/** One IAM statement of the relay's task role, with its resource still relative to the MSK cluster. */
export interface MskStatement {
  actions: string[]
  resource: MskResource
}

/** The relay's Kafka settings for the container, with deploy-time values (`V`) left as they are. */
export function kafkaEnvironment<V>(kafka: KafkaTarget<V>): Partial<Record<ConfigVariable, string | V>> {
  if (kafka.kind === 'brokers')
    return { FACTLIB_SINK: 'kafka', KAFKA_BROKERS: kafka.brokers, KAFKA_TLS: String(kafka.tls ?? false) }
  return {
    FACTLIB_SINK: 'kafka',
    ...(kafka.bootstrapBrokers === undefined
      ? { KAFKA_CLUSTER_ARN: kafka.clusterArn }
      : { KAFKA_BROKERS: kafka.bootstrapBrokers }),
    KAFKA_SASL: 'iam',
    KAFKA_TLS: 'true',
  }
}

/**
 * IAM for MSK with IAM auth: connect and describe the cluster, describe, create and write its topics
 * (the relay creates them; MSK does not), idempotent writes, and the broker lookup only when the relay
 * does it itself.
 */
export function mskStatements<V>(kafka: KafkaTarget<V>, topics: string[]): MskStatement[] {
  if (kafka.kind !== 'msk-iam') return []
  return [
    {
      actions: [
        'kafka-cluster:Connect',
        'kafka-cluster:DescribeCluster',
        'kafka-cluster:WriteDataIdempotently',
      ],
      resource: { kind: 'cluster' },
    },
    {
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:CreateTopic', 'kafka-cluster:WriteData'],
      resource: { kind: 'topics', patterns: topics },
    },
    ...(kafka.bootstrapBrokers === undefined
      ? [{ actions: ['kafka:GetBootstrapBrokers'], resource: { kind: 'cluster' } } satisfies MskStatement]
      : []),
  ]
}

/**
 * IAM topic-name patterns for every topic the relay can write: the template with each configured source
 * (or `*` for all) and `*` for the aggregate type, plus the dead-letter topic.
 */
export function topicPatterns(template: string, sources: string[] | undefined, dlqTopic: string): string[] {
  const perSource = (sources ?? ['*']).map((source) =>
    template.replaceAll('{source}', source).replaceAll('{aggregateType}', '*').replace(/\*+/g, '*'),
  )
  return [...new Set([...perSource, dlqTopic])]
}

/**
 * The ARN of a topic or consumer group in an MSK cluster: `arn:…:cluster/<name>/<uuid>` →
 * `arn:…:topic/<name>/<uuid>/<topic>` (or `group/…/<group>`). For a plain string; the front-ends do the same
 * on deploy-time values.
 */
export function mskArn(clusterArn: string, kind: 'topic' | 'group', name: string): string {
  const [head, tail] = clusterArn.split(':cluster/')
  if (tail === undefined) throw new Error(`not an MSK cluster ARN: ${clusterArn}`)
  return `${head}:${kind}/${tail}/${name}`
}

/** {@link mskArn} of a topic. */
export function mskTopicArn(clusterArn: string, topic: string): string {
  return mskArn(clusterArn, 'topic', topic)
}

/** The ARNs a statement's resource stands for, in a cluster whose ARN is a plain string. */
export function mskResourceArns(clusterArn: string, resource: MskResource): string[] {
  if (resource.kind === 'cluster') return [clusterArn]
  if (resource.kind === 'topics')
    return resource.patterns.map((pattern) => mskArn(clusterArn, 'topic', pattern))
  return resource.names.map((name) => mskArn(clusterArn, 'group', name))
}
