import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { StackOutputs } from '../../lib/runtime/stack-contract.ts';
import { synthStage } from '../helpers/synth.ts';

const dev = synthStage('dev');
const prod = synthStage('prod', { certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234', alarmEmail: 'ops@example.com' });

describe('SluiceStack', () => {
  it('outputs everything the release CLI reads, under stable names', () => {
    const outputs = dev.template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(Object.values(StackOutputs).sort());
    expect(outputs.TargetGroupArn.Value).toEqual({ Ref: expect.stringMatching(/^AppTierTargetGroup/) });
    expect(outputs.AutoScalingGroupName.Value).toEqual({ Ref: expect.stringMatching(/^AppTierGroup/) });
    expect(outputs.ArtifactBucketName.Value).toEqual({ Ref: expect.stringMatching(/^ReleaseArtifactBucket/) });
    expect(outputs.ReleaseTableName.Value).toEqual({ Ref: expect.stringMatching(/^ReleaseReleaseTable/) });
    expect(outputs.CurrentVersionParameterName.Value).toEqual({ Ref: expect.stringMatching(/^ReleaseCurrentVersion/) });
    expect(outputs.ReleaseGateAlarmName.Value).toEqual({ Ref: expect.stringMatching(/^MonitoringReleaseGate/) });
    expect(outputs.QueueUrl.Value).toEqual({ Ref: expect.stringMatching(/^WorkQueue(?!DeadLetter)/) });
    expect(outputs.DeadLetterQueueUrl.Value).toEqual({ Ref: expect.stringMatching(/^WorkQueueDeadLetterQueue/) });
    expect(outputs.StreamName.Value).toEqual({ Ref: expect.stringMatching(/^EventStream/) });
    expect(outputs.CheckpointTableName.Value).toEqual({ Ref: expect.stringMatching(/^EventStreamCheckpointTable/) });
  });

  it('is environment-agnostic, with AZs resolved at deploy time', () => {
    expect(dev.stack.environment).toBe('aws://unknown-account/unknown-region');
    const subnets = dev.template.findResources('AWS::EC2::Subnet');
    for (const subnet of Object.values(subnets)) {
      expect(subnet.Properties.AvailabilityZone).toEqual({ 'Fn::Select': [expect.any(Number), { 'Fn::GetAZs': '' }] });
    }
  });

  it('lets the instances consume the queue and the stream', () => {
    const policy = JSON.stringify(dev.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^AppTierInstanceRole') }] } }));
    expect(policy).toContain('sqs:ReceiveMessage');
    expect(policy).toContain('kinesis:GetRecords');
    expect(policy).toContain('dynamodb:UpdateItem');
    expect(policy).not.toContain('sqs:SendMessage');
    expect(policy).not.toContain('kinesis:PutRecord');
  });

  it('tells the instances where the queue, stream and checkpoints are', () => {
    const userData = JSON.stringify(Object.values(dev.template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
    expect(userData).toMatch(/QUEUE_URL=",\{"Ref":"WorkQueue/);
    expect(userData).toMatch(/STREAM_NAME=",\{"Ref":"EventStream/);
    expect(userData).toMatch(/CHECKPOINT_TABLE_NAME=",\{"Ref":"EventStreamCheckpointTable/);
  });

  it('consumes the queue on the instances by default, with Lambda or both when configured', () => {
    dev.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    const instancePolicy = (template: typeof dev.template) =>
      JSON.stringify(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^AppTierInstanceRole') }] } }));
    const userData = (template: typeof dev.template) => JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);

    const lambdaOnly = synthStage('dev', { queueConsumer: 'lambda' }).template;
    lambdaOnly.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(instancePolicy(lambdaOnly)).not.toContain('sqs:ReceiveMessage');
    expect(userData(lambdaOnly)).not.toContain('QUEUE_URL=');

    const both = synthStage('dev', { queueConsumer: 'both' }).template;
    both.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    expect(instancePolicy(both)).toContain('sqs:ReceiveMessage');
    expect(userData(both)).toContain('QUEUE_URL=');
  });

  it('protects data in prod and not in dev', () => {
    for (const table of Object.values(prod.template.findResources('AWS::DynamoDB::Table'))) {
      expect(table).toMatchObject({ DeletionPolicy: 'Retain', Properties: { DeletionProtectionEnabled: true } });
    }
    for (const table of Object.values(dev.template.findResources('AWS::DynamoDB::Table'))) {
      expect(table).toMatchObject({ DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    }
    prod.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'deletion_protection.enabled', Value: 'true' }]),
    });
  });

  it('sizes prod for an AZ outage', () => {
    prod.template.resourceCountIs('AWS::EC2::NatGateway', 2);
    prod.template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ InstanceType: 't3.medium' }) });
    prod.template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '2', MaxSize: '8' });
  });

  it.each([['dev', dev], ['prod with HTTPS and e-mail', prod], ['dev with the Lambda consumer too', synthStage('dev', { queueConsumer: 'both' })]])('has no unacknowledged AWS Solutions findings (%s)', (_name, { app }) => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a specific reason', () => {
    const acknowledgements = dev.stack.node.findAll().flatMap((construct) => construct.node.metadata
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-')));
    expect(acknowledgements.map(([id]) => id).sort()).toEqual([
      'Annotation::AwsSolutions-AS3',
      'Annotation::AwsSolutions-EC23',
      'Annotation::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      expect.stringMatching(/^Annotation::AwsSolutions-IAM5\[Resource::<ReleaseArtifactBucket[0-9A-F]{8}\.Arn>\/releases\/\*\]$/),
      'Annotation::AwsSolutions-S1',
    ]);
    for (const [, reason] of acknowledgements) {
      expect(reason.length).toBeGreaterThan(60);
      expect(reason).not.toMatch(/^(not needed|n\/a|ok)\.?$/i);
    }
  });

  it('matches the snapshot, with asset hashes masked', () => {
    const masked = JSON.stringify(dev.template.toJSON(), null, 1).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '[ASSET HASH]');
    expect(masked).toMatchSnapshot();
  });
});
