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

describe.each(['dev', 'prod'])('stateful logical IDs of sluice-%s', (stage) => {
  const resources: Record<string, { Type: string }> = synthStage(stage).template.toJSON().Resources;

  it('every pinned resource is still there, with the same logical ID and type', () => {
    const missing = PINNED.filter(([logicalId, type]) => resources[logicalId]?.Type !== type)
      .map(([logicalId, type]) => `${logicalId} (${type})`);
    expect(missing, 'a stateful resource lost its logical ID: moved in the construct tree, renamed or removed').toEqual([]);
  });

  it('no stateful resource exists that the list does not pin', () => {
    const pinned = new Set(PINNED.map(([logicalId]) => logicalId));
    const unpinned = Object.entries(resources)
      .filter(([logicalId, resource]) => STATEFUL_RESOURCE_TYPES.includes(resource.Type) && !pinned.has(logicalId))
      .map(([logicalId, resource]) => `${logicalId} (${resource.Type})`);
    expect(unpinned, 'a new stateful resource: add it to PINNED so that a later move fails here').toEqual([]);
  });
});
