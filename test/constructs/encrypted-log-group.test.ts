import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { encryptedLogGroup } from '../../lib/constructs/log-groups/encrypted-log-group.ts';
import { denyGrantsExceptForAwsServices } from '../helpers/kms-grant-guard.ts';
import { testApp } from '../helpers/synth.ts';

function logGroupsStack(build: (stack: Stack) => void): Template {
  const stack = new Stack(testApp(), 'TestStack');
  build(stack);
  return Template.fromStack(stack);
}

describe('encryptedLogGroup', () => {
  const template = logGroupsStack((stack) => {
    encryptedLogGroup(stack, 'First');
    // Another construct of the same stack: still the one key.
    encryptedLogGroup(new Construct(stack, 'Nested'), 'Second', { retention: logs.RetentionDays.TWO_YEARS });
  });
  const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogEncryptionKey'), 'Arn'] };

  it('keeps events one year by default (Control Tower CT.CLOUDWATCH.PR.2), longer when asked', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: keyArn });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 731, KmsKeyId: keyArn });
  });

  it('encrypts every group of the stack with one customer managed key (CT.CLOUDWATCH.PR.3), rotated yearly and kept when the stack goes', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ EnableKeyRotation: true, PendingWindowInDays: 30 }) });
  });

  it('lets CloudWatch Logs use the key only for log groups of this account and region', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    const logsUse = (key.Properties.KeyPolicy.Statement as { Sid?: string }[]).find((statement) => statement.Sid === 'CloudWatchLogsUse');
    expect(logsUse).toEqual({
      Sid: 'CloudWatchLogsUse',
      Effect: 'Allow',
      Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      Action: ['kms:Decrypt*', 'kms:Describe*', 'kms:Encrypt*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
      Resource: '*',
      Condition: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*']] },
        },
      },
    });
  });

  it('lets only AWS services create grants on the key (CT.KMS.PR.3)', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([denyGrantsExceptForAwsServices]) } });
  });
});
