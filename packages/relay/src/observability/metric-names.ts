/**
 * The relay's metric contract. The infrastructure code builds alarms and dashboards from these constants;
 * never retype a name elsewhere.
 *
 * @example
 * ```ts
 * import { METRICS, METRIC_DIMENSION } from '@factlib/relay/metric-names'
 * new cloudwatch.Metric({ namespace: 'Factlib', metricName: METRICS.slotLagBytes.emf, dimensionsMap: { [METRIC_DIMENSION]: 'factlib' } })
 * ```
 */
export const METRICS = {
  /** Facts Kafka acknowledged. Prometheus label: `source`. */
  factsRelayed: { prometheus: 'factlib_facts_relayed_total', emf: 'FactsRelayed', unit: 'Count' },
  /** Facts sent to the dead-letter topic. Prometheus label: `reason`. */
  deadLettered: { prometheus: 'factlib_dead_lettered_total', emf: 'DeadLettered', unit: 'Count' },
  /**
   * Logical messages of other tools (not the relay's source prefixes, or not an envelope), skipped and
   * confirmed. Prometheus label: `prefix` (the first 20 distinct prefixes; later ones count as `other`).
   */
  foreignMessages: { prometheus: 'factlib_foreign_messages_total', emf: 'ForeignMessages', unit: 'Count' },
  /** Failed produce attempts (each is retried). Prometheus label: `kind`. */
  produceErrors: { prometheus: 'factlib_produce_errors_total', emf: 'ProduceErrors', unit: 'Count' },
  /**
   * Seconds since the oldest batch the sink has not acknowledged was first handed to it, while one is with
   * the sink; 0 otherwise. Prometheus label: `kind`, the last failed attempt's kind since then (`none` when
   * the sink reported none). Over `FACTLIB_STALL_SECONDS` the relay reports not ready.
   */
  sinkStallSeconds: { prometheus: 'factlib_sink_stall_seconds', emf: 'SinkStallSeconds', unit: 'Seconds' },
  /** `pg_current_wal_lsn() - confirmed_flush_lsn` of the slot. */
  slotLagBytes: { prometheus: 'factlib_slot_lag_bytes', emf: 'SlotLagBytes', unit: 'Bytes' },
  /** Now minus the commit time of the oldest unconfirmed transaction; 0 when none. */
  slotLagSeconds: { prometheus: 'factlib_slot_lag_seconds', emf: 'SlotLagSeconds', unit: 'Seconds' },
  /** Commit time to Kafka acknowledgement (a histogram in Prometheus, its p99 in EMF). */
  endToEndLatency: {
    prometheus: 'factlib_e2e_latency_seconds',
    emf: 'EndToEndLatencyP99',
    unit: 'Milliseconds',
  },
  /** The median of the same latency over an EMF interval (EMF only; Prometheus has the histogram). */
  endToEndLatencyP50: {
    prometheus: 'factlib_e2e_latency_seconds',
    emf: 'EndToEndLatencyP50',
    unit: 'Milliseconds',
  },
  /** 1 while this relay is the slot's active reader; EMF emits `Heartbeat` only then. */
  streaming: { prometheus: 'factlib_streaming', emf: 'Heartbeat', unit: 'Count' },
  /** The slot's `wal_status` as a 0/1 gauge per status (Prometheus only). */
  slotWalStatus: { prometheus: 'factlib_slot_wal_status', emf: undefined, unit: undefined },
} as const

export type MetricKey = keyof typeof METRICS

/** The one CloudWatch dimension of every EMF metric; its value is the slot name. */
export const METRIC_DIMENSION = 'Slot'

/** Default CloudWatch namespace (`FACTLIB_METRICS_NAMESPACE`). */
export const DEFAULT_METRICS_NAMESPACE = 'Factlib'
