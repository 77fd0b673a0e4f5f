import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import {
  type AlarmKey,
  type AlarmSpec,
  cloudWatchAlarmProps,
  dashboardBody,
  type RelaySpec,
} from '../spec/index.js'

export interface RelayMonitoringInput {
  spec: RelaySpec<unknown>
  /** Service mode: ECS cluster and service names, for the dashboard's task, CPU and memory graphs. */
  clusterName?: pulumi.Input<string>
  serviceName?: pulumi.Input<string>
  /** Schedule mode: the function's name, for the dashboard's runs and duration graphs. */
  functionName?: pulumi.Input<string>
  /** Addresses subscribed to the alarm topic (each confirms by e-mail). */
  alarmEmails?: string[]
  /** @default the provider's region */
  region?: pulumi.Input<string>
}

export interface RelayMonitoring {
  topic: aws.sns.Topic
  alarms: Partial<Record<AlarmKey, aws.cloudwatch.MetricAlarm>>
  dashboard: aws.cloudwatch.Dashboard
}

/**
 * The relay's SNS alarm topic, alarms and dashboard as plain Pulumi AWS resources, all from the spec.
 *
 * @example
 * ```ts
 * const monitoring = createRelayMonitoring('Relay', {
 *   spec,
 *   clusterName: cluster.nodes.cluster.name,
 *   serviceName: relay.nodes.service.name,
 *   alarmEmails: ['oncall@example.com'],
 * })
 * ```
 */
export function createRelayMonitoring(
  name: string,
  input: RelayMonitoringInput,
  opts?: pulumi.CustomResourceOptions,
): RelayMonitoring {
  const { spec } = input
  const topic = new aws.sns.Topic(`${name}AlarmTopic`, { name: spec.alarmTopicName }, opts)
  for (const [index, email] of (input.alarmEmails ?? []).entries())
    new aws.sns.TopicSubscription(
      `${name}AlarmEmail${index}`,
      { topic: topic.arn, protocol: 'email', endpoint: email },
      opts,
    )

  const alarms: RelayMonitoring['alarms'] = {}
  for (const alarm of spec.alarms)
    alarms[alarm.key] = new aws.cloudwatch.MetricAlarm(
      `${name}${pascal(alarm.key)}Alarm`,
      metricAlarmArgs(alarm, topic.arn),
      opts,
    )

  const region = input.region ?? aws.getRegionOutput({}, opts).region
  const alarmArns: Record<string, pulumi.Output<string>> = {}
  for (const [key, alarm] of Object.entries(alarms)) alarmArns[key] = alarm.arn
  const dashboard = new aws.cloudwatch.Dashboard(
    `${name}Dashboard`,
    {
      dashboardName: spec.dashboardName,
      dashboardBody: pulumi
        .all([region, input.clusterName, input.serviceName, input.functionName, pulumi.all(alarmArns)])
        .apply(([region, clusterName, serviceName, functionName, alarmArns]) =>
          JSON.stringify(dashboardBody(spec, { region, clusterName, serviceName, functionName, alarmArns })),
        ),
    },
    opts,
  )
  return { topic, alarms, dashboard }
}

/** One spec alarm as `aws.cloudwatch.MetricAlarm` arguments; ALARM and OK both notify the topic. */
export function metricAlarmArgs(
  alarm: AlarmSpec,
  topicArn: pulumi.Input<string>,
): aws.cloudwatch.MetricAlarmArgs {
  return { name: alarm.name, dimensions: alarm.dimensions, ...cloudWatchAlarmProps(alarm, topicArn) }
}

const pascal = (key: string) => key.charAt(0).toUpperCase() + key.slice(1)
