import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, it } from 'vitest';
import { AccessLogsBucket } from '../../lib/constructs/access-logs/access-logs-bucket.ts';
import { testApp } from '../helpers/synth.ts';

describe('AccessLogsBucket', () => {
  const stack = new Stack(testApp(), 'TestStack');
  new AccessLogsBucket(stack, 'AccessLogs');
  const template = Template.fromStack(stack);

  it('stays SSE-S3, the only encryption ALB log delivery supports', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
  });

  it('is versioned (Control Tower CT.S3.PR.11), and removes expired and deleted logs 30 days later rather than never', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: { Rules: [
          { ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' },
          { ExpiredObjectDeleteMarker: true, Status: 'Enabled' },
          { AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
        ] },
      }),
    });
  });

  it('publishes its events to EventBridge (CT.S3.PR.4) without a notification Lambda', () => {
    template.hasResourceProperties('AWS::S3::Bucket', { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } });
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });
});
