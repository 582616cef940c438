import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { EventStream, type EventStreamProps } from '../../lib/constructs/event-stream/event-stream.ts';
import { testStack } from '../helpers/synth.ts';
import { withBundledConsumer } from './bundled-consumer.ts';

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

  it('keeps failed records 14 days in an encrypted failure queue that refuses requests not over TLS', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('^EventStreamFailureQueue') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Effect: 'Deny',
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Principal: { AWS: '*' },
      })]) },
    });
  });

  it('grants the instance consumer exactly the calls it makes: Kinesis reads, conditional lease writes, sending failed records', () => {
    const { template: granted } = eventStreamStack({}, (stack, eventStream) => {
      eventStream.grantConsume(new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const statements = new Capture();
    granted.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('^Consumer') }], PolicyDocument: { Statement: statements } });
    expect(statements.asArray()).toEqual([
      {
        Effect: 'Allow',
        Action: ['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStream[0-9A-F]{8}$/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStreamCheckpointTable/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStreamFailureQueue/), 'Arn'] },
      },
    ]);
    // Nothing through resource policies either: the stream has none, the queue's only refuses plain HTTP.
    granted.resourceCountIs('AWS::Kinesis::ResourcePolicy', 0);
    granted.resourcePropertiesCountIs('AWS::SQS::QueuePolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow' })]) } }, 0);
  });

  it('grants a producer exactly PutRecord and PutRecords on the stream, and no KMS (the AWS-managed key needs none)', () => {
    const { template: granted } = eventStreamStack({}, (stack, eventStream) => {
      eventStream.grantProduce(new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const statements = new Capture();
    granted.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }], PolicyDocument: { Statement: statements } });
    expect(statements.asArray()).toEqual([{
      Effect: 'Allow',
      Action: ['kinesis:PutRecord', 'kinesis:PutRecords'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventStream[0-9A-F]{8}$/), 'Arn'] },
    }]);
    granted.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
  });

  it('measures iterator age, write throttles and checkpoint throttles', () => {
    const { eventStream } = eventStreamStack();
    expect(eventStream.metricIteratorAge()).toMatchObject({ metricName: 'GetRecords.IteratorAgeMilliseconds', statistic: 'Maximum' });
    expect(eventStream.metricWriteThrottles()).toMatchObject({ metricName: 'WriteProvisionedThroughputExceeded', statistic: 'Sum' });
    expect(eventStream.metricCheckpointThrottles().toMetricConfig().mathExpression?.expression).toMatch(/\+/);
    expect(eventStream.metricFailureQueueDepth()).toMatchObject({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
    expect(eventStream.metricFailureQueueDepth().period.toSeconds()).toBe(60);
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

describe('EventStream with a Lambda consumer', () => {
  const { template, eventStream } = eventStreamStack({ lambdaConsumer: {} });

  it('has no consumer function unless asked', () => {
    const { template: plain, eventStream: plainStream } = eventStreamStack();
    plain.resourceCountIs('AWS::Lambda::Function', 0);
    plain.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    expect(plainStream.consumerFunction).toBeUndefined();
  });

  it('maps the stream to the function with partial batch responses, bisection, bounded retries and the failure queue', () => {
    expect(eventStream.consumerFunction).toBeDefined();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const mapping = new Capture();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', mapping);
    expect(mapping.asObject()).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^EventStream[0-9A-F]{8}$/), 'Arn'] },
      FunctionName: { Ref: expect.stringMatching(/^EventStreamConsumer/) },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      // The stream keeps records 7 days by default; Lambda allows at most 7 days.
      MaximumRecordAgeInSeconds: 604_800,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^EventStreamFailureQueue/), 'Arn'] } } },
    });
  });

  it('runs lambda/stream-consumer.ts as the consumer function, with a 60-second timeout', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 60, LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^EventStreamConsumerLogs') } } });
  });

  it('lets the function write its log group, read the stream and send to the failure queue, nothing else', () => {
    const statements = new Capture();
    template.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('^EventStreamConsumerRole') }], PolicyDocument: { Statement: statements } });
    const byAction = Object.fromEntries(statements.asArray().map((statement: { Action: string | string[]; Resource: unknown }) => [[statement.Action].flat().join(' '), statement.Resource]));
    const arnOf = (logicalIdPattern: RegExp) => ({ 'Fn::GetAtt': [expect.stringMatching(logicalIdPattern), 'Arn'] });
    expect(byAction).toEqual({
      'logs:CreateLogStream logs:PutLogEvents': arnOf(/^EventStreamConsumerLogs/),
      // What the event source's polling needs (CDK's grantRead on the stream).
      'kinesis:DescribeStream kinesis:DescribeStreamConsumer kinesis:DescribeStreamSummary kinesis:GetRecords kinesis:GetShardIterator kinesis:ListShards kinesis:ListStreams kinesis:SubscribeToShard': arnOf(/^EventStream[0-9A-F]{8}$/),
      // The on-failure destination.
      'sqs:GetQueueAttributes sqs:GetQueueUrl sqs:SendMessage': arnOf(/^EventStreamFailureQueue/),
    });
  });

  it('takes batch size, retries, record age and timeout from the props', () => {
    const { template: tuned } = eventStreamStack({ lambdaConsumer: { batchSize: 10, retryAttempts: 0, maxRecordAge: Duration.hours(6), timeout: Duration.minutes(5) } });
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10, MaximumRetryAttempts: 0, MaximumRecordAgeInSeconds: 21_600 });
    tuned.hasResourceProperties('AWS::Lambda::Function', { Timeout: 300 });
  });

  it('skips no record for its age that the stream still has: the default record age follows a shorter retention', () => {
    eventStreamStack({ streamRetention: Duration.hours(36), lambdaConsumer: {} }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 129_600 });
    eventStreamStack({ streamRetention: Duration.days(30), lambdaConsumer: {} }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 604_800 });
  });

  it('lists every invalid consumer setting', () => {
    expect(() => eventStreamStack({
      streamRetention: Duration.hours(24),
      lambdaConsumer: { batchSize: 10_001, retryAttempts: -1, maxRecordAge: Duration.hours(30), timeout: Duration.minutes(16) },
    })).toThrow(
      'Invalid event stream settings:\n'
        + '  - lambdaConsumer.batchSize must be a whole number between 1 and 10000 (given 10001)\n'
        + '  - lambdaConsumer.retryAttempts must be a whole number between 0 and 10000 (given -1)\n'
        + '  - lambdaConsumer.timeout must be between 1 and 900 seconds (given 960)\n'
        + '  - lambdaConsumer.maxRecordAge must be at most streamRetention (24 hours): older records are gone from the stream (given 108000 seconds)',
    );
    expect(() => eventStreamStack({ lambdaConsumer: { maxRecordAge: Duration.seconds(30) } })).toThrow('lambdaConsumer.maxRecordAge must be between 60 and 604800 seconds (given 30)');
  });

  it('has no AWS Solutions findings beyond the acknowledged one: the failure queue is itself a dead-letter queue', () => {
    const stack = testStack();
    new EventStream(stack, 'EventStream', { lambdaConsumer: {} });
    const report = new AwsSolutionsChecks(stack.node.root).validateScope(stack);
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
    const acknowledged = eventStream.failureQueue.node.metadata.filter((entry) => entry.type === 'aws:cdk:acknowledged-rules').flatMap((entry) => Object.keys(entry.data as object));
    // The same reason for Control Tower's CT.SQS.PR.1 (every queue has a dead-letter queue).
    expect(acknowledged).toEqual(['Annotation::AwsSolutions-SQS3', 'cdk-validator-cfnguard::sqs_dlq_check']);
  });

  it('bundles the handler with esbuild into a minified ES module that answers a Kinesis event', async () => {
    await withBundledConsumer((stack) => new EventStream(stack, 'EventStream', { lambdaConsumer: {} }), async (handler) => {
      const record = (sequenceNumber: string, data: string) => ({
        eventID: `shardId-000000000000:${sequenceNumber}`,
        kinesis: { sequenceNumber, partitionKey: 'k', data: Buffer.from(data).toString('base64'), approximateArrivalTimestamp: 1767225600 },
      });
      await expect(handler({ Records: [record('1001', '{"type":"a"}'), record('1002', 'not json')] }, { getRemainingTimeInMillis: () => 60_000 }))
        .resolves.toEqual({ batchItemFailures: [{ itemIdentifier: '1002' }] });
    });
  });
});
