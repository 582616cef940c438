import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
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

  it('logs to its own log group, encrypted with the stack\'s log key and kept one year, through a role with no managed policies that may write only there', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
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

  it('keeps its log group for the stage\'s logRetention, one of the periods CloudWatch allows', () => {
    const tuned = testStack();
    consumerFunction(new Construct(tuned, 'Queue'), { entry: 'lambda/queue-consumer.ts', description: 'a consumer', roleDescription: 'a consumer role', timeout: Duration.seconds(42), logRetention: RetentionDays.TEN_YEARS });
    Template.fromStack(tuned).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 3653 });
    expect(() => consumerFunction(new Construct(testStack(), 'Queue'), {
      entry: 'lambda/queue-consumer.ts', description: 'a consumer', roleDescription: 'a consumer role', timeout: Duration.seconds(42), logRetention: 10 as RetentionDays,
    })).toThrow(/logRetention must be one of 1, 3, 5, 7, 14, 30, .* days, the periods CloudWatch Logs allows \(given 10\)/);
  });
});
