import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { WorkQueue, type WorkQueueProps } from '../../lib/constructs/work-queue/work-queue.ts';
import { testStack } from '../helpers/synth.ts';

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
    granted.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'] })] },
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
