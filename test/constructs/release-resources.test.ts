import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ReleaseResources, type ReleaseResourcesSettings } from '../../lib/constructs/release-resources/release-resources.ts';
import { denyGrantsExceptForAwsServices } from '../helpers/kms-grant-guard.ts';
import { testStack } from '../helpers/synth.ts';

function releaseStack(settings: ReleaseResourcesSettings & { retainHistory?: boolean } = {}, publisher = false) {
  const stack = testStack();
  const release = new ReleaseResources(stack, 'Release', {
    ...settings,
    accessLogsBucket: new s3.Bucket(stack, 'Logs'),
    currentVersionParameterName: '/sluice/test/current-version',
    artifactKeyAliasName: 'alias/sluice/test/artifacts',
  });
  if (publisher) release.grantPublish(new iam.Role(stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() }));
  return { release, template: Template.fromStack(stack) };
}

describe('ReleaseResources', () => {
  const { template } = releaseStack();

  it('keeps artifacts in a versioned, encrypted, private, access-logged bucket that outlives the stack', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        // A customer managed key (Control Tower CT.S3.PR.10), with an S3 Bucket Key to keep KMS requests down.
        BucketEncryption: { ServerSideEncryptionConfiguration: [{
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseArtifactKey'), 'Arn'] } },
          BucketKeyEnabled: true,
        }] },
        // Uploads reach EventBridge (CT.S3.PR.4), from the bucket itself: no notification Lambda.
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^Logs') }, LogFilePrefix: 'artifact-bucket/' },
      }),
    });
  });

  it('moves old releases to cheaper storage but never expires a current one', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [
        {
          Prefix: 'releases/',
          Status: 'Enabled',
          Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        },
        { AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ] },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('ExpirationInDays');
  });

  it('refuses artifact-bucket requests that are not over TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^ReleaseArtifactBucket') },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('has a release table for the lock, journal and history', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('retains and protects the history when asked', () => {
    releaseStack({ retainHistory: true }).template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('holds the current version in an SSM parameter, "none" before the first release', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/sluice/test/current-version', Type: 'String', Value: 'none', Tier: 'Standard' });
  });

  it('lets a publisher upload only under releases/, encrypting with the artifact key', () => {
    releaseStack({}, true).template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({
          Action: Match.arrayWith(['s3:PutObject']),
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseArtifactBucket'), 'Arn'] }, '/releases/*']] },
        }),
        Match.objectLike({
          Action: Match.arrayWith(['kms:GenerateDataKey*']),
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseArtifactKey'), 'Arn'] },
        }),
      ]) },
    });
  });

  it('encrypts artifacts with a rotated key of their own, kept with the bucket, under the stage\'s alias', () => {
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ EnableKeyRotation: true }) });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/sluice/test/artifacts', TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseArtifactKey'), 'Arn'] } });
  });

  it('lets only AWS services create grants on the artifact key (Control Tower CT.KMS.PR.3)', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([denyGrantsExceptForAwsServices]) },
    });
  });

  it('lists every invalid setting', () => {
    expect(() => releaseStack({ artifactInfrequentAccessDays: 7, artifactNoncurrentRetentionDays: 0 })).toThrow(
      'Invalid release resources settings:\n'
        + '  - artifactInfrequentAccessDays must be a whole number between 30 and 3650 days (given 7)\n'
        + '  - artifactNoncurrentRetentionDays must be a whole number between 1 and 3650 days (given 0)',
    );
  });
});
