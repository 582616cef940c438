import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { describe, expect, it } from 'vitest';
import { AppTier } from '../../lib/constructs/app-tier/app-tier.ts';
import { EventStream } from '../../lib/constructs/event-stream/event-stream.ts';
import { Monitoring, type MonitoringSettings } from '../../lib/constructs/monitoring/monitoring.ts';
import { WorkQueue } from '../../lib/constructs/work-queue/work-queue.ts';
import { testStack } from '../helpers/synth.ts';
import { denyGrantsExceptForAwsServices } from '../helpers/kms-grant-guard.ts';

function monitoringStack(settings: MonitoringSettings = {}, minCapacity = 2) {
  const stack: Stack = testStack();
  const appTier = new AppTier(stack, 'AppTier', {
    minCapacity,
    maxCapacity: Math.max(4, minCapacity + 1),
    accessLogsBucket: new s3.Bucket(stack, 'Logs'),
    artifactBucket: new s3.Bucket(stack, 'Artifacts'),
    currentVersionParameter: new ssm.StringParameter(stack, 'Version', { stringValue: 'none' }),
  });
  const monitoring = new Monitoring(stack, 'Monitoring', {
    ...settings,
    appTier,
    workQueue: new WorkQueue(stack, 'WorkQueue'),
    eventStream: new EventStream(stack, 'EventStream'),
  });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

type AlarmProperties = Record<string, unknown> & { AlarmDescription: string };

function alarmByDescription(template: Template, fragment: string): AlarmProperties {
  const matches = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .map((resource) => resource.Properties as AlarmProperties)
    .filter((properties) => properties.AlarmDescription.includes(fragment));
  expect(matches).toHaveLength(1);
  return matches[0];
}

describe('Monitoring', () => {
  const { template, monitoring } = monitoringStack();

  it('publishes to one SNS topic encrypted with a rotated key CloudWatch may use, over TLS only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringAlarmTopicKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('lets only AWS services create grants on the topic key (Control Tower CT.KMS.PR.3)', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([denyGrantsExceptForAwsServices]) } });
  });

  it('subscribes the alarm e-mail when given', () => {
    monitoringStack({ alarmEmail: 'ops@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('alarms on every critical signal, each notifying the topic on ALARM and OK', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 11);
    for (const resource of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(resource.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }]);
      expect(resource.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }]);
    }
  });

  it('alarms on ELB and target 5xx rates as percentages of requests', () => {
    const elb = alarmByDescription(template, 'load balancer answers 5xx');
    expect(elb).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    expect(JSON.stringify(elb.Metrics)).toContain('HTTPCode_ELB_5XX_Count');
    expect(JSON.stringify(elb.Metrics)).toContain('RequestCount');
    const target = alarmByDescription(template, 'app answers 5xx');
    expect(target).toMatchObject({ Threshold: 2 });
    expect(JSON.stringify(target.Metrics)).toContain('HTTPCode_Target_5XX_Count');
  });

  it('alarms on p99 latency, unhealthy hosts and too few healthy hosts', () => {
    expect(alarmByDescription(template, 'slowest 1 %')).toMatchObject({ MetricName: 'TargetResponseTime', ExtendedStatistic: 'p99', Threshold: 2, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(alarmByDescription(template, 'fails its health checks')).toMatchObject({ MetricName: 'UnHealthyHostCount', Statistic: 'Maximum', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarmByDescription(template, 'healthy targets')).toMatchObject({
      MetricName: 'HealthyHostCount', Statistic: 'Minimum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    });
  });

  it('derives the healthy-host floor from the group minimum, one below for the target a release takes out', () => {
    expect(alarmByDescription(monitoringStack({}, 4).template, 'healthy targets')).toMatchObject({ Threshold: 3 });
    expect(alarmByDescription(monitoringStack({ minHealthyHosts: 2 }).template, 'healthy targets')).toMatchObject({ Threshold: 2 });
  });

  it('alarms on queue age, dead letters, iterator age and throttling', () => {
    expect(alarmByDescription(template, 'Work waits')).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 300 });
    expect(alarmByDescription(template, 'dead-letter queue')).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, EvaluationPeriods: 1 });
    expect(alarmByDescription(template, 'fall behind')).toMatchObject({ MetricName: 'GetRecords.IteratorAgeMilliseconds', Threshold: 120_000 });
    expect(alarmByDescription(template, 'throttled by the stream')).toMatchObject({ MetricName: 'WriteProvisionedThroughputExceeded', Threshold: 0 });
    expect(JSON.stringify(alarmByDescription(template, 'checkpoint table').Metrics)).toContain('ThrottledRequests');
  });

  it('alarms on the first record in the stream failure queue', () => {
    expect(alarmByDescription(template, 'stream failure queue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/^EventStreamFailureQueue/), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('takes thresholds from the settings', () => {
    const { template: tuned } = monitoringStack({
      elb5xxRateThreshold: 0.5,
      responseTimeP99Threshold: Duration.millis(800),
      queueMessageAgeThreshold: Duration.minutes(15),
      streamIteratorAgeThreshold: Duration.seconds(30),
    });
    expect(alarmByDescription(tuned, 'load balancer answers 5xx')).toMatchObject({ Threshold: 0.5 });
    expect(alarmByDescription(tuned, 'slowest 1 %')).toMatchObject({ Threshold: 0.8 });
    expect(alarmByDescription(tuned, 'Work waits')).toMatchObject({ Threshold: 900 });
    expect(alarmByDescription(tuned, 'fall behind')).toMatchObject({ Threshold: 30_000 });
  });

  it('has a release gate that is in ALARM when any signal a bad release could cause is', () => {
    template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
    const rule = new Capture();
    template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmRule: rule });
    const text = JSON.stringify(rule.asObject());
    for (const id of ['Elb5xxRate', 'Target5xxRate', 'ResponseTimeP99', 'HealthyHosts', 'QueueMessageAge', 'StreamIteratorAge']) {
      expect(text).toContain(`Monitoring${id}`);
    }
    for (const id of ['DeadLetterMessages', 'StreamFailedRecords', 'UnhealthyHosts', 'StreamWriteThrottles', 'CheckpointThrottles']) {
      expect(text).not.toContain(`Monitoring${id}`);
    }
    expect(text.match(/ALARM\(/g)).toHaveLength(6);
    expect(text).toContain(' OR ');
    expect(monitoring.releaseGate.alarmName).toBeDefined();
  });

  it('shows every alarm, and its metric, on the dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    for (const logicalId of Object.keys(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(body).toContain(logicalId);
    }
    expect(body).toContain('"type\\":\\"alarm\\"');
    expect((body.match(/\\"annotations\\":\{\\"alarms\\"/g) ?? []).length).toBe(11);
  });

  it('lists every invalid threshold', () => {
    expect(() => monitoringStack({ elb5xxRateThreshold: 150, minHealthyHosts: 0, responseTimeP99Threshold: Duration.millis(1), alarmEmail: 'ops' })).toThrow(
      'Invalid monitoring settings:\n'
        + '  - elb5xxRateThreshold must be between 0 and 100 percent (given 150)\n'
        + '  - responseTimeP99Threshold must be between 0.01 and 3600 seconds (given 0.001)\n'
        + '  - minHealthyHosts must be a whole number between 1 and 100 (given 0)\n'
        + '  - alarmEmail must be an e-mail address such as ops@example.com (given "ops")',
    );
  });
});
