// Every stateful resource of the stage stacks keeps its logical ID. A refactor that moves one of
// them in the construct tree gives it a new ID, which CloudFormation deploys as "create a new,
// empty one and delete the old one with its data". This fails first, naming the resource; if the
// move is intended, keep the old ID (`overrideLogicalId`) rather than editing the list.
import { describe, expect, it } from 'vitest';
import { STATEFUL_RESOURCE_TYPES } from '../../lib/runtime/guard/stateful-resource-types.ts';
import { synthStage } from '../helpers/synth.ts';

/** The pinned logical IDs, the same in every stage (only their deletion policies differ). */
const PINNED: readonly (readonly [logicalId: string, type: string])[] = [
  ['AccessLogsBucketCD784A59', 'AWS::S3::Bucket'],
  ['AppTierFlowLogGroup3FBB957D', 'AWS::Logs::LogGroup'],
  ['AppTierWebLogsFC0D119E', 'AWS::Logs::LogGroup'],
  ['AppTierWorkerLogs9CF2A711', 'AWS::Logs::LogGroup'],
  ['EventStreamA212D9D0', 'AWS::Kinesis::Stream'],
  ['EventStreamCheckpointTable724AE4E9', 'AWS::DynamoDB::Table'],
  ['EventStreamFailureQueue52A7DA44', 'AWS::SQS::Queue'],
  // Encrypts every log group: a new key would leave the old groups' events unreadable once it is deleted.
  ['LogEncryptionKey15FECC8A', 'AWS::KMS::Key'],
  ['MonitoringAlarmTopicKeyFFA45DC9', 'AWS::KMS::Key'],
  ['ReleaseArtifactBucket9E389211', 'AWS::S3::Bucket'],
  ['ReleaseArtifactKey0464EBB0', 'AWS::KMS::Key'],
  ['ReleaseReleaseTable8F61A71E', 'AWS::DynamoDB::Table'],
  ['WorkQueueAD162499', 'AWS::SQS::Queue'],
  ['WorkQueueDeadLetterQueueF71CA21F', 'AWS::SQS::Queue'],
];

/** Pinned too in a stage with a database (prod); the secret's ID names the stack, so it is per stage. */
const PINNED_WITH_DATABASE = (stage: string): readonly (readonly [logicalId: string, type: string])[] => [
  ['DatabaseInstanceAA8A5FDE', 'AWS::RDS::DBInstance'],
  ['DatabasePostgreSqlLogs529AEB94', 'AWS::Logs::LogGroup'],
  ['DatabaseUpgradeLogsA548C373', 'AWS::Logs::LogGroup'],
  [{ prod: 'sluiceprodDatabaseInstanceSecret4F16140A3fdaad7efa858a3daf9490cf0a702aeb' }[stage] ?? `(no database secret pinned for ${stage})`, 'AWS::SecretsManager::Secret'],
  ['LogEncryptionKey15FECC8A', 'AWS::KMS::Key'],
  ['MigrationsRunnerLogs104D8AC4', 'AWS::Logs::LogGroup'],
  ['MigrationsProviderLogs4FBD500B', 'AWS::Logs::LogGroup'],
];

describe.each(['dev', 'prod'])('stateful logical IDs of sluice-%s', (stage) => {
  const { stack, template } = synthStage(stage);
  const resources: Record<string, { Type: string }> = template.toJSON().Resources;
  const hasDatabase = stack.node.tryFindChild('Database') !== undefined;
  const pinnedList = [...PINNED, ...(hasDatabase ? PINNED_WITH_DATABASE(stage) : [])];

  it('every pinned resource is still there, with the same logical ID and type', () => {
    const missing = pinnedList.filter(([logicalId, type]) => resources[logicalId]?.Type !== type)
      .map(([logicalId, type]) => `${logicalId} (${type})`);
    expect(missing, 'a stateful resource lost its logical ID: moved in the construct tree, renamed or removed').toEqual([]);
  });

  it('no stateful resource exists that the list does not pin', () => {
    const pinned = new Set(pinnedList.map(([logicalId]) => logicalId));
    const unpinned = Object.entries(resources)
      .filter(([logicalId, resource]) => STATEFUL_RESOURCE_TYPES.includes(resource.Type) && !pinned.has(logicalId))
      .map(([logicalId, resource]) => `${logicalId} (${resource.Type})`);
    expect(unpinned, 'a new stateful resource: add it to PINNED so that a later move fails here').toEqual([]);
  });
});
