import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { describe, expect, it } from 'vitest';
import { EventStream, type EventStreamProps } from '../../lib/constructs/event-stream/event-stream.ts';
import { testStack } from '../helpers/synth.ts';

function eventStreamStack(props: EventStreamProps = {}, beforeSynth?: (stack: Stack, eventStream: EventStream) => void) {
  const stack = testStack();
  const eventStream = new EventStream(stack, 'EventStream', props);
  beforeSynth?.(stack, eventStream);
  return { stack, eventStream, template: Template.fromStack(stack) };
}

describe('EventStream', () => {
  const { template } = eventStreamStack();

  it('creates an encrypted on-demand stream that keeps 7 days', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 168,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      ShardCount: Match.absent(),
    });
  });

  it('creates a provisioned stream with the given shards', () => {
    eventStreamStack({ streamMode: StreamMode.PROVISIONED, shardCount: 4, streamRetention: Duration.days(30) }).template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 4,
      RetentionPeriodHours: 720,
    });
  });

  it('keeps checkpoints in a KCL lease table: leaseKey hash key, on demand, PITR, encrypted', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: false,
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('protects and retains the checkpoints when asked', () => {
    const { template: retained } = eventStreamStack({ retainCheckpoints: true });
    retained.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('grants consumers stream reads and checkpoint reads and writes, nothing else', () => {
    const { template: granted } = eventStreamStack({}, (stack, eventStream) => {
      eventStream.grantConsume(new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const statements = new Capture();
    granted.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: statements } });
    expect(statements.asArray()).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'kinesis:DescribeStream', 'kinesis:DescribeStreamConsumer', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords',
          'kinesis:GetShardIterator', 'kinesis:ListShards', 'kinesis:ListStreams', 'kinesis:SubscribeToShard',
        ],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStream[0-9A-F]{8}$/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable',
          'dynamodb:GetItem', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem',
        ],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStreamCheckpointTable/), 'Arn'] },
      },
    ]);
  });

  it('measures iterator age, write throttles and checkpoint throttles', () => {
    const { eventStream } = eventStreamStack();
    expect(eventStream.metricIteratorAge()).toMatchObject({ metricName: 'GetRecords.IteratorAgeMilliseconds', statistic: 'Maximum' });
    expect(eventStream.metricWriteThrottles()).toMatchObject({ metricName: 'WriteProvisionedThroughputExceeded', statistic: 'Sum' });
    expect(eventStream.metricCheckpointThrottles().toMetricConfig().mathExpression?.expression).toMatch(/\+/);
  });

  it('lists every invalid setting', () => {
    expect(() => eventStreamStack({ shardCount: 2, streamRetention: Duration.hours(12) })).toThrow(
      'Invalid event stream settings:\n'
        + '  - shardCount applies only when streamMode is PROVISIONED (given 2 with ON_DEMAND); remove it or set streamMode to PROVISIONED\n'
        + '  - streamRetention must be a whole number of hours between 24 and 8760 (given 12 hours)',
    );
    expect(() => eventStreamStack({ streamMode: StreamMode.PROVISIONED, shardCount: 0 })).toThrow('shardCount must be a whole number between 1 and 10000 (given 0)');
  });
});
