// The names the CDK app and the release CLI agree on: the stack of a stage, its outputs, its
// current-version parameter. CDK-free, so the CLI's bundle can never pull in aws-cdk-lib through it.

/**
 * What a stage name may be: 1 to 20 lower-case letters, digits or "-", starting with a letter. It
 * becomes part of the stack name, the parameter names and resource names, so it keeps to what all
 * of them allow. The CDK app checks a stage's configuration against it, the release CLI its --stage.
 */
export const STAGE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

/** The CloudFormation stack of a stage: `sluice-<stage>`. Shared by the CDK app and the release CLI. */
export function stackName(stage: string): string {
  return `sluice-${stage}`;
}

/** The SSM parameter that holds a stage's current release version. */
export function currentVersionParameterName(stage: string): string {
  return `/sluice/${stage}/current-version`;
}

/**
 * The KMS alias of a stage's artifact-bucket key. The CI stack's upload permission names the key
 * by this alias (kms:ResourceAliases): its generated key ID is unknown outside the stage's stack.
 */
export function artifactKeyAliasName(stage: string): string {
  return `alias/sluice/${stage}/artifacts`;
}

/**
 * The SSM parameter that holds the highest migration applied to a stage's database, written by the
 * stack from the migration custom resource's result; `sluice release` compares it with the
 * artifact manifest's migration before rolling out (the CLI runs outside the VPC and cannot query
 * the database itself).
 */
export function schemaVersionParameterName(stage: string): string {
  return `/sluice/${stage}/schema-version`;
}

/** Output keys of a stage's stack; the release CLI reads them with DescribeStacks. */
export const StackOutputs = {
  targetGroupArn: 'TargetGroupArn',
  autoScalingGroupName: 'AutoScalingGroupName',
  artifactBucketName: 'ArtifactBucketName',
  releaseTableName: 'ReleaseTableName',
  currentVersionParameterName: 'CurrentVersionParameterName',
  releaseGateAlarmName: 'ReleaseGateAlarmName',
  queueUrl: 'QueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  streamName: 'StreamName',
  checkpointTableName: 'CheckpointTableName',
  streamFailureQueueUrl: 'StreamFailureQueueUrl',
  loadBalancerDnsName: 'LoadBalancerDnsName',
  alarmTopicArn: 'AlarmTopicArn',
} as const;

/** Output keys of a stage's feature-flag resources (AppConfig ids); `sluice flags` reads them with DescribeStacks. */
export const FlagsStackOutputs = {
  applicationId: 'FlagsApplicationId',
  environmentId: 'FlagsEnvironmentId',
  configurationProfileId: 'FlagsConfigurationProfileId',
  allAtOnceStrategyId: 'FlagsAllAtOnceStrategyId',
  gradualStrategyId: 'FlagsGradualStrategyId',
} as const;
