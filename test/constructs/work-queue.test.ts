import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { WorkQueue, type WorkQueueProps } from '../../lib/constructs/work-queue/work-queue.ts';
import { testStack } from '../helpers/synth.ts';
import { withBundledConsumer } from './bundled-consumer.ts';

function workQueueStack(props: WorkQueueProps = {}, beforeSynth?: (stack: Stack, workQueue: WorkQueue) => void) {
  const stack = testStack();
  const workQueue = new WorkQueue(stack, 'WorkQueue', props);
  beforeSynth?.(stack, workQueue);
  return { stack, workQueue, template: Template.fromStack(stack) };
}

const tlsOnly = Match.arrayWith([Match.objectLike({
  Effect: 'Deny',
  Action: 'sqs:*',
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  Principal: { AWS: '*' },
})]);

describe('WorkQueue', () => {
  const { template } = workQueueStack();

  it('creates the queue with long polling, the default visibility and a redrive policy', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: Match.stringLikeRegexp('^TestStack-WorkQueue-[A-Za-z0-9]+$'),
      SqsManagedSseEnabled: true,
      ReceiveMessageWaitTimeSeconds: 20,
      VisibilityTimeout: 60,
      MessageRetentionPeriod: 345600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkQueueDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
      RedriveAllowPolicy: { redrivePermission: 'denyAll' },
    });
  });

  it('keeps dead letters 14 days and lets only the work queue redrive into it', () => {
    const queueName = new Capture();
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: queueName, ReceiveMessageWaitTimeSeconds: 20 });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: `${queueName.asString()}-dlq`,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedriveAllowPolicy: {
        redrivePermission: 'byQueue',
        sourceQueueArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${queueName.asString()}`]] }],
      },
    });
  });

  it('refuses requests that are not over TLS, on both queues', () => {
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    const policies = template.findResources('AWS::SQS::QueuePolicy', { Properties: { PolicyDocument: { Statement: tlsOnly } } });
    expect(Object.keys(policies)).toHaveLength(2);
  });

  it('takes visibility, retention and maxReceiveCount from the props', () => {
    workQueueStack({ queueVisibilityTimeout: Duration.minutes(5), maxReceiveCount: 10, queueRetention: Duration.days(14) }).template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 300,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }),
    });
  });

  it('grants consumers exactly what a worker needs, and producers only sending', () => {
    const { template: granted } = workQueueStack({}, (stack, workQueue) => {
      workQueue.grantConsume(new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() }));
      workQueue.grantSend(new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    granted.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Consumer') }],
      PolicyDocument: { Statement: [{
        Effect: 'Allow',
        Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkQueue(?!DeadLetter)'), 'Arn'] },
      }] },
    });
    // The web app knows the queue URL: SendMessage is its only call (SSE-SQS needs no KMS permission).
    granted.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkQueue(?!DeadLetter)'), 'Arn'] } }] },
    });
  });

  it('measures the oldest message and the dead letters per minute', () => {
    const { workQueue } = workQueueStack();
    expect(workQueue.metricOldestMessageAge()).toMatchObject({ metricName: 'ApproximateAgeOfOldestMessage', statistic: 'Maximum' });
    expect(workQueue.metricDeadLetterDepth()).toMatchObject({ metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
  });

  it('lists every invalid setting', () => {
    expect(() => workQueueStack({ queueVisibilityTimeout: Duration.hours(13), maxReceiveCount: 1001, queueRetention: Duration.seconds(30) })).toThrow(
      'Invalid work queue settings:\n'
        + '  - queueVisibilityTimeout must be between 0 and 43200 seconds (given 46800)\n'
        + '  - maxReceiveCount must be a whole number between 1 and 1000 (given 1001)\n'
        + '  - queueRetention must be between 60 and 1209600 seconds (given 30)',
    );
  });
});

describe('WorkQueue with a Lambda consumer', () => {
  const { template, workQueue } = workQueueStack({ lambdaConsumer: {} });
  const queueArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkQueue(?!DeadLetter|Consumer)'), 'Arn'] };

  it('has no consumer function unless asked', () => {
    const { template: plain, workQueue: plainQueue } = workQueueStack();
    plain.resourceCountIs('AWS::Lambda::Function', 0);
    plain.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    expect(plainQueue.consumerFunction).toBeUndefined();
  });

  it('maps the queue to the function with partial batch responses and bounded concurrency', () => {
    expect(workQueue.consumerFunction).toBeDefined();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      FunctionName: { Ref: Match.stringLikeRegexp('^WorkQueueConsumer') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  it('runs lambda/queue-consumer.ts as the consumer function, with a 10-second timeout', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 10, LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^WorkQueueConsumerLogs') } } });
  });

  it('lets the function write its log group and consume the queue, nothing else', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^WorkQueueConsumerRole') }],
      PolicyDocument: { Statement: [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WorkQueueConsumerLogs'), 'Arn'] } },
        { Effect: 'Allow', Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], Resource: queueArn },
      ] },
    });
  });

  it('takes concurrency, batch size, batching window and timeout from the props', () => {
    const { template: tuned } = workQueueStack({
      queueVisibilityTimeout: Duration.seconds(185),
      lambdaConsumer: { maxConcurrency: 50, batchSize: 5, maxBatchingWindow: Duration.seconds(5), timeout: Duration.seconds(30) },
    });
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 50 }, BatchSize: 5, MaximumBatchingWindowInSeconds: 5 });
    tuned.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30 });
    tuned.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 185, ReceiveMessageWaitTimeSeconds: 20 });
  });

  it('requires a visibility timeout of at least six function timeouts, plus the batching window', () => {
    expect(() => workQueueStack({ lambdaConsumer: { timeout: Duration.seconds(30) } })).toThrow(
      'Invalid work queue settings:\n'
        + '  - queueVisibilityTimeout must be at least 6 × lambdaConsumer.timeout = 180 seconds, as AWS recommends for a Lambda consumer; raise it or shorten the timeout (given 60)',
    );
    expect(() => workQueueStack({ lambdaConsumer: { maxBatchingWindow: Duration.seconds(1) } })).toThrow(
      '  - queueVisibilityTimeout must be at least 6 × lambdaConsumer.timeout + lambdaConsumer.maxBatchingWindow = 61 seconds, as AWS recommends for a Lambda consumer; raise it or shorten the timeout (given 60)',
    );
    expect(() => workQueueStack({ queueVisibilityTimeout: Duration.minutes(3), lambdaConsumer: { timeout: Duration.seconds(30) } })).not.toThrow();
  });

  it('lists every invalid consumer setting', () => {
    expect(() => workQueueStack({
      queueVisibilityTimeout: Duration.hours(2),
      lambdaConsumer: { maxConcurrency: 1, batchSize: 11, maxBatchingWindow: Duration.minutes(6), timeout: Duration.minutes(16) },
    })).toThrow(
      'Invalid work queue settings:\n'
        + '  - lambdaConsumer.maxConcurrency must be a whole number between 2 and 1000 (given 1)\n'
        + '  - lambdaConsumer.batchSize must be a whole number between 1 and 10 (given 11)\n'
        + '  - lambdaConsumer.maxBatchingWindow must be between 0 and 300 seconds (given 360)\n'
        + '  - lambdaConsumer.timeout must be between 1 and 900 seconds (given 960)',
    );
  });

  it('has no AWS Solutions findings', () => {
    const stack = testStack();
    new WorkQueue(stack, 'WorkQueue', { lambdaConsumer: {} });
    const report = new AwsSolutionsChecks(stack.node.root).validateScope(stack);
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('bundles the handler with esbuild into a minified ES module that answers an SQS event', async () => {
    await withBundledConsumer((stack) => new WorkQueue(stack, 'WorkQueue', { lambdaConsumer: {} }), async (handler) => {
      const record = (messageId: string, body: string) => ({ messageId, body, attributes: { ApproximateReceiveCount: '1' }, messageAttributes: {}, eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:work' });
      await expect(handler({ Records: [record('m1', '{"type":"send-invoice"}'), record('m2', 'not json')] }, { getRemainingTimeInMillis: () => 10_000 }))
        .resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    });
  });
});
