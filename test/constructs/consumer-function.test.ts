import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { consumerFunction } from '../../lib/constructs/consumer-function.ts';
import { testStack } from '../helpers/synth.ts';

describe('consumerFunction', () => {
  const stack = testStack();
  const fn = consumerFunction(new Construct(stack, 'Queue'), {
    entry: 'lambda/queue-consumer.ts',
    description: 'a consumer',
    roleDescription: 'a consumer role',
    timeout: Duration.seconds(42),
  });
  const template = Template.fromStack(stack);

  it('runs the entry point on the latest Node.js runtime, on arm64, with source maps and the given timeout', () => {
    expect(fn.node.id).toBe('Consumer');
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 42,
      Description: 'a consumer',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^QueueConsumerLogs') } },
    });
  });

  it('logs to its own log group, kept a year and encrypted with the stack\'s log key (Control Tower CT.CLOUDWATCH.PR.2/3), through a role with no managed policies that may write only there', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogEncryptionKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: 'a consumer role',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^QueueConsumerRole') }],
      PolicyDocument: { Statement: [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QueueConsumerLogs'), 'Arn'] } },
      ] },
    });
  });
});
