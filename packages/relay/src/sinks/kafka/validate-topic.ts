import type { Admin, Callback, Connection } from '@platformatic/kafka'
import type { KafkaModule } from './client-module.js'

interface TopicRequest {
  name: string
  numPartitions: number
  replicationFactor: number
  assignments: never[]
  configs: never[]
}
type CreateTopicsApi = (
  connection: Connection,
  topics: TopicRequest[],
  timeoutMs: number,
  validateOnly: boolean,
  callback: Callback<unknown>,
) => void

/**
 * Ask the controller to create `topic` with `validateOnly`: the answer proves the CREATE permission and the
 * broker's topic policy, and nothing is created. `Admin.createTopics` has no such flag, so the request goes
 * through the admin's own connection and API version negotiation (its exported `kGetApi`/`kGetConnection`).
 * Rejects with the broker's refusal (TOPIC_AUTHORIZATION_FAILED, POLICY_VIOLATION, …).
 */
export async function validateTopicCreation(
  kafka: KafkaModule,
  admin: Admin,
  topic: string,
  partitions: number,
  timeoutMs: number,
): Promise<void> {
  const metadata = await admin.metadata({ topics: [] })
  // Under ZooKeeper only the controller creates topics; under KRaft any broker forwards the request.
  const broker = metadata.brokers.get(metadata.controllerId) ?? metadata.brokers.values().next().value
  if (!broker) throw new Error('the cluster named no broker')
  const connection = await settled<Connection>((callback) => admin[kafka.kGetConnection](broker, callback))
  const api = await settled<CreateTopicsApi>((callback) => admin[kafka.kGetApi]('CreateTopics', callback))
  const request: TopicRequest = {
    name: topic,
    numPartitions: partitions,
    replicationFactor: -1,
    assignments: [],
    configs: [],
  }
  await settled<unknown>((callback) => api(connection, [request], timeoutMs, true, callback))
}

/** The client's callback style as a promise. */
function settled<T>(call: (callback: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    call((error, payload) => (error ? reject(error) : resolve(payload as T))),
  )
}
