import { randomBytes } from 'node:crypto'
import type { Admin } from '@platformatic/kafka'
import type { RelayConfig } from '../../config/config.js'
import { errorMessage } from '../../util/error-fields.js'
import { withTimeout } from '../../util/timeout.js'
import type { CheckResult } from '../../wal/prerequisites.js'
import { kafkaClientOptions } from './client.js'
import { type KafkaModule, loadKafkaClient } from './client-module.js'
import { connectFailure, KafkaConnectError } from './connect-failure.js'
import { errorSummary } from './errors.js'
import { type BearerToken, mskIamTokens, signingRegion } from './msk-iam.js'
import { mskIamActions } from './permissions.js'
import { topicRefusal } from './topics.js'
import { validateTopicCreation } from './validate-topic.js'

/** Options of {@link checkKafka}. */
export interface KafkaCheckOptions {
  /** Give up connecting after this long. @default 10_000 */
  timeoutMs?: number
  /** Token source for MSK IAM (tests). @default signed with the default AWS credential chain */
  iamTokens?: () => Promise<BearerToken>
}

/**
 * What `factlib doctor` checks of the Kafka sink: MSK IAM signing when configured, that the brokers answer
 * with these TLS and SASL settings, and that the topics can exist: the dead-letter topic exists, or the
 * principal may create topics (asked with `validateOnly`, so nothing is created). Empty when the sink is
 * not Kafka.
 */
export async function checkKafka(
  config: RelayConfig,
  options: KafkaCheckOptions = {},
): Promise<CheckResult[]> {
  if (config.sink.kind !== 'kafka') return []
  const sink = config.sink
  const timeoutMs = options.timeoutMs ?? 10_000
  const results: CheckResult[] = []
  let iamTokens = options.iamTokens
  if (sink.sasl === 'iam') {
    const iam = await checkIam(sink.clusterArn, iamTokens, timeoutMs)
    results.push(iam.result)
    if (iam.result.status === 'fail') return results
    iamTokens = iam.tokens
  }

  const started = Date.now()
  let brokers: string[] = sink.brokers
  let admin: Admin | undefined
  try {
    const client = await kafkaClientOptions(sink, {
      clientId: 'factlib-doctor',
      connectionTimeoutMs: Math.min(timeoutMs, 5_000),
      requestTimeoutMs: timeoutMs,
      ...(iamTokens ? { iamTokens } : {}),
    })
    brokers = client.brokers
    const kafka = await loadKafkaClient()
    admin = new kafka.Admin({ ...client.options, retries: 0 })
    const connected = admin
    const cluster = await withTimeout(connected.metadata({ topics: [] }), timeoutMs, () =>
      noAnswer(timeoutMs),
    )
    results.push({
      id: 'kafka',
      title: 'Kafka reachable',
      status: 'pass',
      detail:
        `${cluster.brokers.size} broker(s) via ${brokers.join(',')}; TLS ${sink.tls ? 'on' : 'off'}, ` +
        `SASL ${sink.sasl ?? 'none'}`,
    })
    results.push(
      await checkTopics(kafka, connected, config, timeoutMs).catch((error: unknown) => ({
        id: 'kafka_topics',
        title: 'Kafka topics can exist',
        status: 'fail' as const,
        detail: `listing or validating topics failed: ${errorSummary(error)}`,
        fix: 'check that the principal may DESCRIBE the cluster and its topics, then run doctor again',
      })),
    )
  } catch (error) {
    const failure = connectFailure(error, sink, brokers, Date.now() - started)
    results.push({
      id: 'kafka',
      title: 'Kafka reachable',
      status: 'fail',
      ...(failure instanceof KafkaConnectError
        ? { detail: failure.detail, fix: failure.fix }
        : {
            detail: failure.message,
            fix: 'check KAFKA_BROKERS, KAFKA_TLS, KAFKA_SASL and that the network lets this machine reach the brokers',
          }),
    })
  } finally {
    await admin?.close().catch(() => {})
  }
  return results
}

async function checkTopics(
  kafka: KafkaModule,
  admin: Admin,
  config: RelayConfig,
  timeoutMs: number,
): Promise<CheckResult> {
  const existing = new Set(await admin.listTopics())
  const dlqExists = existing.has(config.dlqTopic)
  // Asking to create a topic that does not exist, with validateOnly, proves the permission and the broker's
  // policy without creating anything.
  const probe = dlqExists ? `factlib-doctor-${randomBytes(6).toString('hex')}` : config.dlqTopic
  const title = 'Kafka topics can exist'
  try {
    await validateTopicCreation(kafka, admin, probe, config.topicPartitions, timeoutMs)
  } catch (error) {
    const refusal = topicRefusal(error, probe, config.topicPartitions)
    if (!refusal) throw error
    return {
      id: 'kafka_topics',
      title,
      status: 'fail',
      detail: `the relay may not create topics (${config.topic}), and MSK does not create them on first use`,
      fix: refusal,
    }
  }
  const sources = (config.sources ?? [])
    .map((source) => {
      const prefix = config.topic.split('{aggregateType}')[0]?.replaceAll('{source}', source) ?? source
      return `${[...existing].filter((topic) => topic.startsWith(prefix)).length} topic(s) of ${source}`
    })
    .join(', ')
  return {
    id: 'kafka_topics',
    title,
    status: 'pass',
    detail:
      `the relay may create topics (${config.topicPartitions} partitions, template ${config.topic}); ` +
      `dead-letter topic ${config.dlqTopic} ${dlqExists ? 'exists' : 'will be created'}` +
      (sources ? `; ${sources} exist` : ''),
  }
}

async function checkIam(
  clusterArn: string | undefined,
  given: (() => Promise<BearerToken>) | undefined,
  timeoutMs: number,
): Promise<{ result: CheckResult; tokens?: () => Promise<BearerToken> }> {
  const title = 'MSK IAM token'
  const region = signingRegion(clusterArn)
  const tokens = given ?? (region === undefined ? undefined : mskIamTokens({ region }))
  if (!tokens)
    return {
      result: {
        id: 'msk_iam',
        title,
        status: 'fail',
        detail: 'KAFKA_SASL=iam, but there is no AWS region to sign for',
        fix: 'set KAFKA_CLUSTER_ARN, or AWS_REGION',
      },
    }
  try {
    const token = await withTimeout(tokens(), timeoutMs, () => noAnswer(timeoutMs))
    const minutes = Math.round((token.expiryTime - Date.now()) / 60_000)
    return {
      result: {
        id: 'msk_iam',
        title,
        status: 'pass',
        detail: `signed a token${region ? ` for ${region}` : ''}, valid for ${minutes} more minutes`,
      },
      tokens: async () => token,
    }
  } catch (error) {
    return {
      result: {
        id: 'msk_iam',
        title,
        status: 'fail',
        detail: errorMessage(error).split('\n')[0] ?? '',
        fix: `give the relay AWS credentials (the ECS task role, or AWS_* variables) whose policy allows ${mskIamActions()}`,
      },
    }
  }
}

// A plain Error: connectFailure passes a FactlibError through as is, and a silent broker is "unreachable".
function noAnswer(ms: number): Error {
  return new Error(`no answer within ${Math.round(ms / 1000)} s`)
}
