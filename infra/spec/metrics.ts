import { DEFAULT_METRICS_NAMESPACE, METRIC_DIMENSION, METRICS } from '@factlib/relay/metric-names'

export { DEFAULT_METRICS_NAMESPACE, METRIC_DIMENSION }

/** The relay's EMF metric names this deployment reads, taken from the relay's own contract. */
export const RELAY_METRICS = {
  factsRelayed: METRICS.factsRelayed.emf,
  deadLettered: METRICS.deadLettered.emf,
  produceErrors: METRICS.produceErrors.emf,
  foreignMessages: METRICS.foreignMessages.emf,
  sinkStallSeconds: METRICS.sinkStallSeconds.emf,
  slotLagBytes: METRICS.slotLagBytes.emf,
  slotLagSeconds: METRICS.slotLagSeconds.emf,
  endToEndLatency: METRICS.endToEndLatency.emf,
  endToEndLatencyP50: METRICS.endToEndLatencyP50.emf,
  heartbeat: METRICS.streaming.emf,
} as const

/** AWS's own metrics the alarms and the dashboard use beside the relay's. */
export const AWS_METRICS = {
  rds: {
    namespace: 'AWS/RDS',
    dimension: 'DBInstanceIdentifier',
    oldestReplicationSlotLag: 'OldestReplicationSlotLag',
    transactionLogsDiskUsage: 'TransactionLogsDiskUsage',
  },
  ecs: { namespace: 'AWS/ECS', cpu: 'CPUUtilization', memory: 'MemoryUtilization' },
  // Schedule mode: the relay's function.
  lambda: {
    namespace: 'AWS/Lambda',
    dimension: 'FunctionName',
    invocations: 'Invocations',
    errors: 'Errors',
    throttles: 'Throttles',
    duration: 'Duration',
  },
  // Task counts exist only with Container Insights enabled on the cluster.
  containerInsights: {
    namespace: 'ECS/ContainerInsights',
    running: 'RunningTaskCount',
    desired: 'DesiredTaskCount',
  },
} as const
