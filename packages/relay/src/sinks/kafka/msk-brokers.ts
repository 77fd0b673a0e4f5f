import type { GetBootstrapBrokersCommand, GetBootstrapBrokersCommandOutput } from '@aws-sdk/client-kafka'
import { FactlibError } from '@factlib/emit'
import type { KafkaSasl } from '../../config/config.js'
import { errorMessage } from '../../util/error-fields.js'
import { regionFromArn } from './msk-iam.js'

/** The part of `@aws-sdk/client-kafka`'s `KafkaClient` the lookup uses; tests pass their own. */
export interface BootstrapBrokersClient {
  send(command: GetBootstrapBrokersCommand): Promise<GetBootstrapBrokersCommandOutput>
}

/**
 * The bootstrap brokers of an MSK cluster for the way the relay connects: the SASL/IAM string for IAM, the
 * SASL/SCRAM string for SCRAM, the TLS string for TLS, else plaintext. `@aws-sdk/client-kafka` is loaded
 * only here, when brokers are not given.
 *
 * @example
 * ```ts
 * const brokers = await mskBootstrapBrokers({ clusterArn, sasl: 'iam', tls: true })
 * // ['b-1.orders.abc.c2.kafka.eu-west-1.amazonaws.com:9098', ...]
 * ```
 */
export async function mskBootstrapBrokers(
  { clusterArn, sasl, tls }: { clusterArn: string; sasl: KafkaSasl | undefined; tls: boolean },
  client?: BootstrapBrokersClient,
): Promise<string[]> {
  const region = regionFromArn(clusterArn)
  const sdk = await import('@aws-sdk/client-kafka')
  const kafka = client ?? new sdk.KafkaClient({ region })
  let output: GetBootstrapBrokersCommandOutput
  try {
    output = await kafka.send(new sdk.GetBootstrapBrokersCommand({ ClusterArn: clusterArn }))
  } catch (error) {
    throw new FactlibError(
      'KAFKA_BROKERS_LOOKUP',
      `could not look up the bootstrap brokers of ${clusterArn}: ${errorMessage(error)}. ` +
        'Allow kafka:GetBootstrapBrokers on the cluster for the relay, or set KAFKA_BROKERS',
      { cause: error, retriable: true },
    )
  } finally {
    if (!client) (kafka as { destroy?: () => void }).destroy?.()
  }
  const [field, listener] =
    sasl === 'iam'
      ? (['BootstrapBrokerStringSaslIam', 'SASL/IAM'] as const)
      : sasl === 'scram-sha-256' || sasl === 'scram-sha-512'
        ? (['BootstrapBrokerStringSaslScram', 'SASL/SCRAM'] as const)
        : tls
          ? (['BootstrapBrokerStringTls', 'TLS'] as const)
          : (['BootstrapBrokerString', 'plaintext'] as const)
  const brokers = (output[field] ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean)
  if (brokers.length === 0)
    throw new FactlibError(
      'KAFKA_BROKERS_LOOKUP',
      `MSK cluster ${clusterArn} has no ${listener} bootstrap brokers (${field} is empty): enable that access ` +
        'method on the cluster, or change KAFKA_SASL/KAFKA_TLS to one it offers, or set KAFKA_BROKERS',
    )
  return brokers
}
