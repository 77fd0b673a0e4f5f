import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import type { RelaySpec } from '../spec/index.js'
import { servicePermissions } from './service.js'

export interface RelayScheduleInput {
  spec: RelaySpec<pulumi.Input<string>>
  /** A folder holding the bundle `index.mjs` (infra/lambda: `buildRelayLambda`). */
  bundleDirectory: string
  /** Private subnets with a route to the database (a NAT gateway for one outside the VPC) and to Kafka. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>
  securityGroupIds: pulumi.Input<pulumi.Input<string>[]>
  /**
   * The PostgreSQL URL. Lambda has no secret injection like ECS: the value sits in the function's
   * (KMS-encrypted) environment and stays a Pulumi secret in the state.
   */
  databaseUrl: pulumi.Input<string>
}

export interface RelaySchedule {
  function: aws.lambda.Function
  invokeConfig: aws.lambda.FunctionEventInvokeConfig
  schedule: aws.scheduler.Schedule
  logGroup: aws.cloudwatch.LogGroup
}

/**
 * Schedule mode as plain Pulumi AWS resources: the relay's Lambda function in the VPC (reserved concurrency
 * 1), its async invoke settings (no retries, capped event age), its log group, and an EventBridge Scheduler
 * schedule invoking it, all from the spec.
 */
export function createRelaySchedule(
  name: string,
  input: RelayScheduleInput,
  opts?: pulumi.CustomResourceOptions,
): RelaySchedule {
  const { spec } = input
  const schedule = spec.schedule
  if (!schedule) throw new Error(`createRelaySchedule: the spec is in ${spec.mode} mode`)

  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}Logs`,
    { name: spec.logs.groupName, retentionInDays: spec.logs.retentionDays },
    opts,
  )
  const role = new aws.iam.Role(
    `${name}FunctionRole`,
    {
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
      // Logs, and the network interfaces a function in a VPC needs.
      managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
    },
    opts,
  )
  const statements = servicePermissions(spec)
  if (statements.length)
    new aws.iam.RolePolicy(
      `${name}FunctionMsk`,
      {
        role: role.id,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: statements.map(({ actions, resources }) => ({
            Effect: 'Allow',
            Action: actions,
            Resource: resources,
          })),
        }),
      },
      opts,
    )

  const fn = new aws.lambda.Function(
    `${name}Function`,
    {
      name: schedule.functionName,
      role: role.arn,
      runtime: schedule.runtime,
      architectures: [schedule.architecture],
      handler: schedule.handler,
      code: new pulumi.asset.FileArchive(input.bundleDirectory),
      memorySize: schedule.memoryMiB,
      timeout: schedule.timeoutSeconds,
      reservedConcurrentExecutions: schedule.reservedConcurrency,
      vpcConfig: { subnetIds: input.subnetIds, securityGroupIds: input.securityGroupIds },
      environment: {
        variables: {
          ...(schedule.environment as Record<string, pulumi.Input<string>>),
          DATABASE_URL: pulumi.secret(input.databaseUrl),
        },
      },
      loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
    },
    opts,
  )
  const invokeConfig = new aws.lambda.FunctionEventInvokeConfig(
    `${name}InvokeConfig`,
    {
      functionName: fn.name,
      maximumRetryAttempts: schedule.maximumRetryAttempts,
      maximumEventAgeInSeconds: schedule.maximumEventAgeSeconds,
    },
    opts,
  )

  const schedulerRole = new aws.iam.Role(
    `${name}SchedulerRole`,
    {
      assumeRolePolicy: assumedBy('scheduler.amazonaws.com'),
      inlinePolicies: [
        {
          name: 'invoke',
          policy: pulumi.jsonStringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: fn.arn }],
          }),
        },
      ],
    },
    opts,
  )
  const scheduleResource = new aws.scheduler.Schedule(
    `${name}Schedule`,
    {
      name: schedule.functionName,
      scheduleExpression: schedule.expression,
      flexibleTimeWindow: { mode: schedule.flexibleTimeWindow },
      target: { arn: fn.arn, roleArn: schedulerRole.arn, retryPolicy: schedule.schedulerRetryPolicy },
    },
    { ...opts, dependsOn: [invokeConfig] },
  )
  return { function: fn, invokeConfig, schedule: scheduleResource, logGroup }
}

/** A role's trust policy for one AWS service. */
function assumedBy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  })
}
