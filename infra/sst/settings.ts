/**
 * What `sst deploy` reads from its own environment: choices that differ per account and stage. The relay's
 * runtime settings are not here; they come from the spec.
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `FACTLIB_DEPLOY_SLOT` | replication slot | `factlib` |
 * | `FACTLIB_DEPLOY_SOURCES` | comma list of sources to relay | all |
 * | `FACTLIB_DEPLOY_MSK_CLUSTER_ARN` | an existing MSK cluster with IAM auth | a new MSK Serverless cluster |
 * | `FACTLIB_DEPLOY_DATABASE_SECRET_ARN` | Secrets Manager secret or SSM parameter holding the URL | SST secret `DatabaseUrl` |
 * | `FACTLIB_DEPLOY_RDS_INSTANCE` | RDS instance (Aurora: writer) for the backstop alarms | none |
 * | `FACTLIB_DEPLOY_ALARM_EMAILS` | comma list subscribed to the alarm topic | none |
 * | `FACTLIB_DEPLOY_STANDBY` | `true` runs a hot standby (two tasks) | `false` |
 * | `FACTLIB_DEPLOY_VPC_ID` | an existing VPC (the database's) | a new VPC |
 * | `FACTLIB_DEPLOY_SUBNET_IDS` | with the VPC: private subnets with a route to AWS APIs | — |
 * | `FACTLIB_DEPLOY_SECURITY_GROUP_IDS` | with the VPC: groups the database and MSK admit | — |
 * | `FACTLIB_DEPLOY_MODE` | `service` (Fargate, always on) or `schedule` (Lambda drains on a schedule) | `service` |
 * | `FACTLIB_DEPLOY_SCHEDULE_MINUTES` | schedule mode: minutes between drains | 15 on Neon, else 5 |
 * | `FACTLIB_DEPLOY_DATABASE_HOST` | the database's host (not secret): Neon's limits apply to `*.neon.tech` | none |
 * | `FACTLIB_DEPLOY_NAT` | the new VPC's NAT: `managed`, `ec2` (fck-nat, cheaper) or `none` | see {@link vpcNat} |
 * | `FACTLIB_DEPLOY_LAMBDA_BUNDLE` | schedule mode: a folder with a built `index.mjs` (`npm run bundle:lambda -w @factlib/infra`) | built at deploy |
 * | `FACTLIB_DEPLOY_CONSUMER_FUNCTION` | an existing Lambda function to subscribe to a fact topic (also its consumer group id) | none |
 * | `FACTLIB_DEPLOY_CONSUMER_TOPIC` | with the function: the fact topic, e.g. `orders.Order` | — |
 */
export interface DeploySettings {
  slot: string | undefined
  sources: string[] | undefined
  mskClusterArn: string | undefined
  databaseSecretArn: string | undefined
  rdsInstance: string | undefined
  alarmEmails: string[]
  standby: boolean
  vpc: { id: string; subnetIds: string[]; securityGroupIds: string[] } | undefined
  mode: 'service' | 'schedule'
  scheduleMinutes: number | undefined
  databaseHost: string | undefined
  nat: 'managed' | 'ec2' | 'none' | undefined
  lambdaBundle: string | undefined
  consumer: { functionName: string; topic: string } | undefined
}

/**
 * The NAT step of a new VPC. Neither a Lambda function in a VPC nor the relay's task (no public IP) reaches
 * anything outside the VPC without one: schedule mode gets a managed NAT gateway, and so does a database
 * outside AWS (Neon), whose host says so. Service mode with a database inside the VPC needs none.
 * `FACTLIB_DEPLOY_NAT` decides instead: `ec2` (SST's fck-nat instance, about a tenth of the price) or `none`
 * (the escape hatch: the VPC has its own route out, or everything the relay reaches is inside it).
 * With an existing VPC (`FACTLIB_DEPLOY_VPC_ID`) its subnets' routes are the VPC's business: undefined.
 */
export function vpcNat(settings: DeploySettings): 'managed' | 'ec2' | undefined {
  if (settings.vpc) return undefined
  const nat =
    settings.nat ?? (settings.mode === 'schedule' || isOutsideAws(settings.databaseHost) ? 'managed' : 'none')
  return nat === 'none' ? undefined : nat
}

/**
 * The VPC endpoints step of a new VPC. A consumer's event source mapping calls Lambda and STS (and its
 * failure destination's service, `ConsumerSpec.endpointServices`) from the cluster's private subnets: with a
 * NAT gateway it goes through that, without one the VPC gets interface endpoints for those services instead. Nothing without a consumer, or with an
 * existing VPC (its routes are its own).
 */
export function vpcEndpoints(settings: DeploySettings, services: string[]): string[] {
  if (!settings.consumer || settings.vpc || vpcNat(settings)) return []
  return services
}

/** A database host outside any AWS VPC: Neon, Supabase. */
function isOutsideAws(host: string | undefined): boolean {
  return host !== undefined && /(^|\.)(neon\.tech|supabase\.co|supabase\.com)$/i.test(host)
}

/** Read and check the deploy settings; an invalid one fails the deploy naming the variable. */
export function readDeploySettings(env: Record<string, string | undefined>): DeploySettings {
  const get = (name: string) => {
    const value = env[`FACTLIB_DEPLOY_${name}`]?.trim()
    return value ? value : undefined
  }
  const list = (name: string) =>
    get(name)
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  const fail = (name: string, expected: string): never => {
    throw new Error(`FACTLIB_DEPLOY_${name} is ${JSON.stringify(get(name))}; ${expected}`)
  }

  const mskClusterArn = get('MSK_CLUSTER_ARN')
  if (mskClusterArn && !/^arn:aws[\w-]*:kafka:[\w-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(mskClusterArn))
    fail('MSK_CLUSTER_ARN', 'expected arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>')
  const databaseSecretArn = get('DATABASE_SECRET_ARN')
  if (databaseSecretArn && !/^arn:aws[\w-]*:(secretsmanager|ssm):/.test(databaseSecretArn))
    fail('DATABASE_SECRET_ARN', 'expected a Secrets Manager secret ARN or an SSM parameter ARN')
  const standby = get('STANDBY') ?? 'false'
  if (standby !== 'true' && standby !== 'false') fail('STANDBY', 'expected true or false')

  const vpcId = get('VPC_ID')
  const subnetIds = list('SUBNET_IDS') ?? []
  const securityGroupIds = list('SECURITY_GROUP_IDS') ?? []
  if (vpcId && (!subnetIds.length || !securityGroupIds.length))
    fail(
      'VPC_ID',
      'with an existing VPC also set FACTLIB_DEPLOY_SUBNET_IDS and FACTLIB_DEPLOY_SECURITY_GROUP_IDS',
    )

  const mode = get('MODE') ?? 'service'
  if (mode !== 'service' && mode !== 'schedule') fail('MODE', 'expected service or schedule')
  const minutes = get('SCHEDULE_MINUTES')
  if (minutes !== undefined && !/^\d+$/.test(minutes)) fail('SCHEDULE_MINUTES', 'expected whole minutes')
  if (minutes !== undefined && mode !== 'schedule')
    fail('SCHEDULE_MINUTES', 'set FACTLIB_DEPLOY_MODE=schedule too')
  const nat = get('NAT')
  if (nat !== undefined && nat !== 'managed' && nat !== 'ec2' && nat !== 'none')
    fail('NAT', 'expected managed, ec2 or none')
  if (nat !== undefined && vpcId)
    fail('NAT', 'applies to a new VPC only; an existing VPC routes its own subnets')

  const consumerFunction = get('CONSUMER_FUNCTION')
  const consumerTopic = get('CONSUMER_TOPIC')
  if (consumerFunction !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(consumerFunction))
    fail('CONSUMER_FUNCTION', 'expected a Lambda function name (A-Z, a-z, 0-9, _ and -)')
  if ((consumerFunction === undefined) !== (consumerTopic === undefined))
    fail(
      consumerFunction === undefined ? 'CONSUMER_TOPIC' : 'CONSUMER_FUNCTION',
      'set both FACTLIB_DEPLOY_CONSUMER_FUNCTION and FACTLIB_DEPLOY_CONSUMER_TOPIC',
    )

  return {
    slot: get('SLOT'),
    sources: list('SOURCES'),
    mskClusterArn,
    databaseSecretArn,
    rdsInstance: get('RDS_INSTANCE'),
    alarmEmails: list('ALARM_EMAILS') ?? [],
    standby: standby === 'true',
    vpc: vpcId ? { id: vpcId, subnetIds, securityGroupIds } : undefined,
    mode: mode as DeploySettings['mode'],
    scheduleMinutes: minutes === undefined ? undefined : Number(minutes),
    databaseHost: get('DATABASE_HOST'),
    nat: nat as DeploySettings['nat'],
    lambdaBundle: get('LAMBDA_BUNDLE'),
    consumer:
      consumerFunction && consumerTopic
        ? { functionName: consumerFunction, topic: consumerTopic }
        : undefined,
  }
}
