/** The `@platformatic/kafka` module. */
export type KafkaModule = typeof import('@platformatic/kafka')

let loading: Promise<KafkaModule> | undefined

/**
 * `@platformatic/kafka`, imported on first use: loading it costs about 60 MiB of memory and a few hundred
 * milliseconds (368 modules), which a relay with another sink, or a program that only imports
 * `@factlib/relay`, should not pay.
 */
export function loadKafkaClient(): Promise<KafkaModule> {
  loading ??= import('@platformatic/kafka')
  return loading
}
