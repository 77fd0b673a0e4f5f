import type * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import {
  type FargateCpu,
  type MskResource,
  type MskStatement,
  mskResourceArns,
  type RelaySpec,
} from '../spec/index.js'

const SST_CPU = {
  256: '0.25 vCPU',
  512: '0.5 vCPU',
  1024: '1 vCPU',
  2048: '2 vCPU',
  4096: '4 vCPU',
} as const satisfies Record<FargateCpu, string>

export interface RelayServiceInput<Cluster> {
  /** The `sst.aws.Cluster` to run in. */
  cluster: Cluster
  spec: RelaySpec<pulumi.Input<string>>
  /** ARN of the Secrets Manager secret (or SSM parameter) holding `DATABASE_URL`. */
  databaseSecretArn: pulumi.Input<string>
}

/**
 * The arguments of `new sst.aws.Service(...)` for the relay, all from the spec. `sst.config.ts` passes them
 * on unchanged, so its type check proves they fit SST's real `ServiceArgs`.
 *
 * @example
 * ```ts
 * const relay = new sst.aws.Service('Relay', relayServiceArgs({ cluster, spec, databaseSecretArn: secret.arn }))
 * ```
 */
export function relayServiceArgs<Cluster>({ cluster, spec, databaseSecretArn }: RelayServiceInput<Cluster>) {
  const { container, service } = spec
  const seconds = (value: number) => `${value} seconds` as const
  return {
    cluster,
    architecture: container.architecture,
    cpu: SST_CPU[container.cpu],
    memory: `${container.memoryMiB / 1024} GB` as const,
    image: { context: container.image.context, dockerfile: container.image.dockerfile },
    command: [...container.command],
    environment: container.environment as Record<string, pulumi.Input<string>>,
    // `ssm` becomes the container's ECS `secrets`; the value never appears in the task definition.
    ssm: { DATABASE_URL: databaseSecretArn },
    health: {
      command: container.healthCheck.command,
      interval: seconds(container.healthCheck.intervalSeconds),
      timeout: seconds(container.healthCheck.timeoutSeconds),
      retries: container.healthCheck.retries,
      startPeriod: seconds(container.healthCheck.startPeriodSeconds),
    },
    // A fixed count: SST's default CPU and memory autoscaling would start a second reader under load.
    scaling: {
      min: service.desiredCount,
      max: service.desiredCount,
      cpuUtilization: false as const,
      memoryUtilization: false as const,
    },
    permissions: servicePermissions(spec),
    logging: { name: spec.logs.groupName },
    transform: {
      logGroup: { retentionInDays: spec.logs.retentionDays },
      service: (args: aws.ecs.ServiceArgs): undefined => {
        args.deploymentMinimumHealthyPercent = service.minimumHealthyPercent
        args.deploymentMaximumPercent = service.maximumPercent
        args.deploymentCircuitBreaker = service.circuitBreaker
      },
      taskDefinition: (args: aws.ecs.TaskDefinitionArgs): undefined => {
        args.containerDefinitions = pulumi
          .output(args.containerDefinitions)
          .apply((json) => withRelaySettings(json, spec.container.stopTimeoutSeconds))
      },
    },
  }
}

/**
 * SST's container definition has no stop timeout and runs under a pseudo-terminal; the relay needs the
 * timeout (longer than its own) and plain lines on stdout, where CloudWatch reads its EMF metrics.
 */
export function withRelaySettings(containerDefinitions: string, stopTimeoutSeconds: number): string {
  const definitions = JSON.parse(containerDefinitions) as Record<string, unknown>[]
  return JSON.stringify(
    definitions.map((definition) => ({
      ...definition,
      stopTimeout: stopTimeoutSeconds,
      pseudoTerminal: false,
    })),
  )
}

/** The task role's statements in SST's `permissions` shape: MSK access for the relay, nothing else. */
export function servicePermissions(
  spec: RelaySpec<pulumi.Input<string>>,
): { actions: string[]; resources: pulumi.Input<string>[] }[] {
  if (spec.kafka.kind !== 'msk-iam') return []
  const clusterArn = spec.kafka.clusterArn
  return spec.iam.map((statement: MskStatement) => ({
    actions: statement.actions,
    resources: mskArnInputs(clusterArn, statement.resource),
  }))
}

/** The ARNs of a statement's resource in a cluster whose ARN is known at deploy time, one output each. */
export function mskArnInputs(
  clusterArn: pulumi.Input<string>,
  resource: MskResource,
): pulumi.Output<string>[] {
  const count =
    resource.kind === 'cluster'
      ? 1
      : resource.kind === 'topics'
        ? resource.patterns.length
        : resource.names.length
  const arns = pulumi.output(clusterArn).apply((arn) => mskResourceArns(arn, resource))
  return Array.from({ length: count }, (_, index) => arns.apply((all) => all[index] as string))
}
