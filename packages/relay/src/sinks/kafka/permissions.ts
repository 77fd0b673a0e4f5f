/**
 * Everything the relay does on a Kafka cluster, with the Kafka ACL operation and the MSK IAM action that
 * allow it (infra/spec/kafka.ts grants the same actions to the relay's task role). Connecting has no ACL:
 * with SASL it is the credentials that count.
 */
const KAFKA_ACTIONS = {
  connect: { resource: 'cluster', acl: undefined, iam: 'kafka-cluster:Connect' },
  describeCluster: { resource: 'cluster', acl: 'DESCRIBE', iam: 'kafka-cluster:DescribeCluster' },
  createTopic: { resource: 'topic', acl: 'CREATE', iam: 'kafka-cluster:CreateTopic' },
  describeTopic: { resource: 'topic', acl: 'DESCRIBE', iam: 'kafka-cluster:DescribeTopic' },
  write: { resource: 'topic', acl: 'WRITE', iam: 'kafka-cluster:WriteData' },
  writeIdempotently: {
    resource: 'cluster',
    acl: 'IDEMPOTENT_WRITE',
    iam: 'kafka-cluster:WriteDataIdempotently',
  },
} as const

/** One thing the relay does on a Kafka cluster; see {@link grantHint}. */
export type KafkaAction = keyof typeof KAFKA_ACTIONS

/** Every action the relay needs: what its MSK IAM policy must allow. */
export const RELAY_ACTIONS = Object.keys(KAFKA_ACTIONS) as KafkaAction[]

/** The MSK IAM actions, comma-separated: `kafka-cluster:WriteData, kafka-cluster:DescribeTopic`. */
export function mskIamActions(actions: readonly KafkaAction[] = RELAY_ACTIONS): string {
  return actions.map((action) => KAFKA_ACTIONS[action].iam).join(', ')
}

/**
 * What to grant so that the relay may do `actions`, as ACLs and as MSK IAM actions.
 *
 * @example
 * ```ts
 * grantHint(['write', 'writeIdempotently'])
 * // 'grant WRITE on the topic and IDEMPOTENT_WRITE on the cluster
 * //  (MSK IAM: kafka-cluster:WriteData, kafka-cluster:WriteDataIdempotently)'
 * ```
 */
export function grantHint(actions: readonly KafkaAction[]): string {
  const byResource = new Map<string, string[]>()
  for (const action of actions) {
    const { resource, acl } = KAFKA_ACTIONS[action]
    if (acl === undefined) continue
    const operations = byResource.get(resource) ?? []
    if (!operations.includes(acl)) operations.push(acl)
    byResource.set(resource, operations)
  }
  const acls = [...byResource].map(
    ([resource, operations]) => `${operations.join(' and ')} on the ${resource}`,
  )
  const iam = `MSK IAM: ${mskIamActions(actions)}`
  return acls.length === 0 ? `allow ${iam}` : `grant ${acls.join(' and ')} (${iam})`
}
