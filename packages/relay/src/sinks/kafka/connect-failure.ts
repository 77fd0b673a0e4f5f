import { FactlibError } from '@factlib/emit'
import type { KafkaConfig } from '../../config/config.js'
import { errorFields } from '../../util/error-fields.js'
import { errorSummary, errorTree, findByCode, kafkaErrorType } from './errors.js'
import { grantHint, mskIamActions } from './permissions.js'

/**
 * Why the relay could not connect to Kafka. The first two are `KAFKA_AUTH`; the others `KAFKA_UNREACHABLE`,
 * retriable (the sink keeps trying until its start timeout).
 */
export type KafkaConnectProblem =
  /** The brokers refused the credentials (SASL). */
  | 'sasl_authentication'
  /** The principal is authenticated but may not produce idempotently. */
  | 'authorization'
  /** The broker's TLS certificate is not trusted by this process. */
  | 'tls_untrusted'
  /** KAFKA_TLS is on, but the listener does not speak TLS. */
  | 'tls_mismatch'
  /** No answer: a wrong address, a network in the way, or Kafka down. */
  | 'unreachable'

/**
 * Kafka cannot be reached or refuses the relay, with the parts as fields: `factlib doctor` shows `detail`
 * and `fix`, a caller branches on `code` or `problem`. The message is `detail: fix`; neither ever holds
 * the password. Its `name` stays `FactlibError`.
 *
 * @example
 * ```ts
 * try {
 *   await sink.start()
 * } catch (error) {
 *   if (error instanceof KafkaConnectError) console.error(error.brokers, error.problem, error.fix)
 *   throw error
 * }
 * ```
 */
export class KafkaConnectError extends FactlibError {
  /** The bootstrap brokers tried; empty when none were known yet. */
  readonly brokers: readonly string[]
  readonly problem: KafkaConnectProblem
  /** What happened and where, with the broker's or the network's own words. */
  readonly detail: string
  /** What to change. */
  readonly fix: string

  constructor(
    parts: { brokers: readonly string[]; problem: KafkaConnectProblem; detail: string; fix: string },
    cause: unknown,
  ) {
    const auth = parts.problem === 'sasl_authentication' || parts.problem === 'authorization'
    super(auth ? 'KAFKA_AUTH' : 'KAFKA_UNREACHABLE', `${parts.detail}: ${parts.fix}`, {
      cause,
      retriable: !auth,
    })
    this.brokers = parts.brokers
    this.problem = parts.problem
    this.detail = parts.detail
    this.fix = parts.fix
  }
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * The error `start()` throws when Kafka cannot be reached or refuses the relay: a {@link KafkaConnectError},
 * or the {@link FactlibError} already inside `error` (a failed broker lookup, no region to sign for).
 */
export function connectFailure(
  error: unknown,
  config: KafkaConfig,
  brokers: string[],
  waitedMs: number,
): FactlibError {
  for (const inner of errorTree(error)) if (inner instanceof FactlibError) return inner
  const type = kafkaErrorType(error)
  const said = redact(errorSummary(error), config.password)
  const where = brokers.length ? brokers.join(',') : (config.clusterArn ?? '(no brokers)')
  const failure = (problem: KafkaConnectProblem, detail: string, fix: string) =>
    new KafkaConnectError({ brokers, problem, detail, fix }, error)

  if (findByCode(error, 'PLT_KFK_AUTHENTICATION') || type === 'SASL_AUTHENTICATION_FAILED')
    return failure(
      'sasl_authentication',
      `Kafka at ${where} refused SASL authentication (${said})`,
      config.sasl === 'iam'
        ? `check that the relay role's IAM policy allows ${mskIamActions(['connect'])} on the cluster and that the region is the cluster's`
        : `check KAFKA_USERNAME (${JSON.stringify(config.username)}), KAFKA_PASSWORD and that KAFKA_SASL=${config.sasl} is a mechanism the listener enables`,
    )
  if (type === 'CLUSTER_AUTHORIZATION_FAILED' || type === 'TOPIC_AUTHORIZATION_FAILED')
    return failure(
      'authorization',
      `Kafka at ${where} does not allow this principal to produce idempotently (${type})`,
      grantHint(['write', 'writeIdempotently']),
    )
  const detail = `Kafka is unreachable at ${where} after ${Math.round(waitedMs / 100) / 10} s (${said})`
  const codes = new Set<string>()
  for (const inner of errorTree(error)) {
    const code = errorFields(inner)?.code
    if (code !== undefined) codes.add(code)
  }
  if ([...codes].some((code) => TLS_TRUST_CODES.has(code)))
    return failure(
      'tls_untrusted',
      detail,
      "the broker's TLS certificate is not trusted by this process: give the CA with NODE_EXTRA_CA_CERTS, or check the host name",
    )
  if ([...codes].some((code) => code === 'EPROTO' || code.startsWith('ERR_SSL')) || tlsRefused(error))
    return failure(
      'tls_mismatch',
      detail,
      'the listener does not speak TLS: use its TLS port or set KAFKA_TLS=false',
    )
  if (tlsRequired(error))
    return failure(
      'tls_mismatch',
      detail,
      'the listener speaks only TLS: set KAFKA_TLS=true, or use its plaintext port',
    )
  return failure(
    'unreachable',
    detail,
    `check KAFKA_BROKERS (host:port of bootstrap brokers; MSK ports: 9092 plaintext, 9094 TLS, 9096 SASL/SCRAM, 9098 IAM), ` +
      `that the network allows the relay to reach them, and that KAFKA_TLS (${config.tls ? 'on' : 'off'}) ` +
      `and KAFKA_SASL (${config.sasl ?? 'none'}) match the listener`,
  )
}

// The client words these two TLS failures only as text: a TLS handshake the broker dropped, and TLS
// records answering a plaintext connection.
function tlsRefused(error: unknown): boolean {
  return [...errorTree(error)].some((inner) => inner.message.startsWith('TLS handshake failed'))
}
function tlsRequired(error: unknown): boolean {
  return [...errorTree(error)].some((inner) => inner.message === 'Broker requires TLS.')
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, '***') : text
}
