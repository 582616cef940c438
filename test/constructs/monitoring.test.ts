import { Duration, type Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { describe, expect, it } from 'vitest';
import { AppTier } from '../../lib/constructs/app-tier/app-tier.ts';
import { EventStream } from '../../lib/constructs/event-stream/event-stream.ts';
import { Monitoring, type MonitoringSettings } from '../../lib/constructs/monitoring/monitoring.ts';
import { WorkQueue } from '../../lib/constructs/work-queue/work-queue.ts';
import { flattenTokens } from '../helpers/iam-policy.ts';
import { testStack } from '../helpers/synth.ts';
import { denyGrantsExceptForAwsServices } from '../helpers/kms-grant-guard.ts';

interface Consumers {
  /** A Lambda function consumes the work queue too. */
  readonly queueLambda?: boolean;
  /** A Lambda function reads the event stream too. */
  readonly streamLambda?: boolean;
}

function monitoringStack(settings: MonitoringSettings = {}, minCapacity = 2, consumers: Consumers = {}, addMore?: (stack: Stack, monitoring: Monitoring) => void) {
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
    stageName: 'qa',
    appTier,
    workQueue: new WorkQueue(stack, 'WorkQueue', { lambdaConsumer: consumers.queueLambda ? {} : undefined }),
    eventStream: new EventStream(stack, 'EventStream', { lambdaConsumer: consumers.streamLambda ? {} : undefined }),
  });
  addMore?.(stack, monitoring);
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
    // 11 on the load balancer, the queue and the stream; worker job and stream failure rates, jobs
    // stalled and the latency anomaly.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 15);
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

  it('has a release gate that is in ALARM when any signal a bad release could cause is, and only those that judge it within a bake', () => {
    const { template: all } = monitoringStack({}, 2, { queueLambda: true, streamLambda: true });
    all.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
    const rule = new Capture();
    all.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmRule: rule });
    const text = JSON.stringify(rule.asObject());
    for (const id of ['Elb5xxRate', 'Target5xxRate', 'ResponseTimeP99', 'HealthyHosts', 'QueueMessageAge', 'StreamIteratorAge', 'WorkerJobFailureRate', 'WorkerStreamFailureRate']) {
      expect(text).toContain(`Monitoring${id}`);
    }
    for (const id of [
      'DeadLetterMessages', 'StreamFailedRecords', 'UnhealthyHosts', 'StreamWriteThrottles', 'CheckpointThrottles',
      // Slow, or learned over days: the gate rolls releases back, so these stay out.
      'JobsStalled', 'LatencyP99Anomaly',
      // Lambda code is deployed by cdk deploy, not by the release the gate rolls back.
      'QueueLambdaJobFailureRate', 'StreamLambdaFailureRate', 'QueueConsumerErrors', 'QueueConsumerThrottles', 'StreamConsumerErrors', 'StreamConsumerThrottles',
    ]) {
      expect(text).not.toContain(`Monitoring${id}`);
    }
    expect(text.match(/ALARM\(/g)).toHaveLength(8);
    expect(text).toContain(' OR ');
    expect(monitoring.releaseGate.alarmName).toBeDefined();
  });

  it('lists every invalid new threshold', () => {
    expect(() => monitoringStack({ jobFailureRateThreshold: -1, streamFailureRateThreshold: 101, jobsStalledAfter: Duration.seconds(90), latencyAnomalyBandWidth: 0.5 })).toThrow(
      'Invalid monitoring settings:\n'
        + '  - jobFailureRateThreshold must be between 0 and 100 percent (given -1)\n'
        + '  - streamFailureRateThreshold must be between 0 and 100 percent (given 101)\n'
        + '  - jobsStalledAfter must be a whole number of minutes between 5 and 1440 (given 1.5 minutes)\n'
        + '  - latencyAnomalyBandWidth must be between 1 and 10 standard deviations (given 0.5)',
    );
    expect(() => monitoringStack({ jobsStalledAfter: Duration.days(2) })).toThrow('jobsStalledAfter must be a whole number of minutes between 5 and 1440 (given 2880 minutes)');
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

interface MetricQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Period: number; Stat: string };
}

/** An alarm's metric queries, each metric as `Namespace/MetricName Dim=Value,… Stat/Period`. */
function queriesOf(alarm: AlarmProperties): { expression: string; metrics: Record<string, string> } {
  const queries = alarm.Metrics as MetricQuery[];
  const expressions = queries.filter((query) => query.Expression !== undefined);
  expect(expressions).toHaveLength(1);
  const metrics = Object.fromEntries(queries.filter((query) => query.MetricStat).map((query) => {
    const { Metric, Period, Stat } = query.MetricStat!;
    const dimensions = Metric.Dimensions.map((dimension) => `${dimension.Name}=${JSON.stringify(dimension.Value).replaceAll('"', '')}`).sort().join(',');
    return [query.Id, `${Metric.Namespace}/${Metric.MetricName} ${dimensions} ${Stat}/${Period}`];
  }));
  return { expression: expressions[0].Expression!, metrics };
}

describe('Monitoring: the worker, the Lambda consumers and the business', () => {
  const { template } = monitoringStack();
  const { template: withLambdas } = monitoringStack({}, 2, { queueLambda: true, streamLambda: true });

  it('alarms when the instance worker fails more than 5 % of its jobs, three minutes of five, from its own JobsFailed and JobsProcessed', () => {
    const alarm = alarmByDescription(template, "instance worker's handler fails");
    expect(alarm).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
    const { expression, metrics } = queriesOf(alarm);
    const ids = Object.fromEntries(Object.entries(metrics).map(([id, metric]) => [metric.split(' ')[0], id]));
    expect(Object.values(metrics).sort()).toEqual([
      'sluice/JobsFailed Service=worker,Stage=qa Sum/60',
      'sluice/JobsProcessed Service=worker,Stage=qa Sum/60',
    ]);
    // failed / (processed + failed), 0 when nothing ran.
    const [failed, processed] = [ids['sluice/JobsFailed'], ids['sluice/JobsProcessed']];
    expect(expression).toContain(`100 * FILL(${failed}, 0) / (FILL(${failed}, 0) + FILL(${processed}, 0))`);
    expect(expression).toMatch(/, 0\)$/);
  });

  it('alarms when the instance worker sends more than 1 % of its stream records to the failure queue', () => {
    const alarm = alarmByDescription(template, 'instance worker sends more than');
    expect(alarm).toMatchObject({ Threshold: 1, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(Object.values(queriesOf(alarm).metrics).sort()).toEqual([
      'sluice/StreamRecordsFailed Service=worker,Stage=qa Sum/60',
      'sluice/StreamRecordsProcessed Service=worker,Stage=qa Sum/60',
    ]);
  });

  it('takes the failure-rate thresholds from the settings', () => {
    const { template: tuned } = monitoringStack({ jobFailureRateThreshold: 10, streamFailureRateThreshold: 0.5 });
    expect(alarmByDescription(tuned, "instance worker's handler fails")).toMatchObject({ Threshold: 10 });
    expect(alarmByDescription(tuned, 'instance worker sends more than')).toMatchObject({ Threshold: 0.5 });
  });

  it('alarms on the Lambda consumers only when they exist: their failure rates, and AWS/Lambda errors and throttles three minutes in a row', () => {
    const lambdaAlarm = (t: Template) => Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter((resource) => /Lambda/.test(JSON.stringify(resource.Properties)));
    expect(lambdaAlarm(template)).toEqual([]);
    withLambdas.resourceCountIs('AWS::CloudWatch::Alarm', 21);
    expect(Object.values(queriesOf(alarmByDescription(withLambdas, "work-queue Lambda consumer's handler fails")).metrics).sort()).toEqual([
      'sluice/JobsFailed Service=queue-lambda,Stage=qa Sum/60',
      'sluice/JobsProcessed Service=queue-lambda,Stage=qa Sum/60',
    ]);
    expect(alarmByDescription(withLambdas, "work-queue Lambda consumer's handler fails")).toMatchObject({ Threshold: 5 });
    expect(Object.values(queriesOf(alarmByDescription(withLambdas, 'event-stream Lambda consumer sends')).metrics).sort()).toEqual([
      'sluice/StreamRecordsFailed Service=stream-lambda,Stage=qa Sum/60',
      'sluice/StreamRecordsProcessed Service=stream-lambda,Stage=qa Sum/60',
    ]);
    for (const [consumer, functionId] of [['work-queue', /^WorkQueueConsumer[0-9A-F]{8}$/], ['event-stream', /^EventStreamConsumer[0-9A-F]{8}$/]] as const) {
      for (const [fragment, metricName] of [['Lambda consumer fail', 'Errors'], ['Lambda consumer is throttled', 'Throttles']]) {
        expect(alarmByDescription(withLambdas, `${consumer} ${fragment}`)).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: expect.stringMatching(functionId) } }],
          Statistic: 'Sum',
          Period: 60,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 3,
          TreatMissingData: 'notBreaching',
        });
      }
    }
  });

  it('alarms when jobs were accepted in a 10-minute window and none was processed, by whichever consumer, and stays OK without traffic', () => {
    const alarm = alarmByDescription(template, 'none was processed');
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    const { expression, metrics } = queriesOf(alarm);
    expect(metrics).toEqual({ accepted: 'sluice/JobsAccepted Service=web,Stage=qa Sum/600', worker: 'sluice/JobsProcessed Service=worker,Stage=qa Sum/600' });
    expect(expression).toBe('IF(FILL(accepted, 0) > 0 AND FILL(worker, 0) == 0, 1, 0)');

    const lambdaToo = alarmByDescription(withLambdas, 'none was processed');
    expect(queriesOf(lambdaToo).metrics.lambda).toBe('sluice/JobsProcessed Service=queue-lambda,Stage=qa Sum/600');
    expect(queriesOf(lambdaToo).expression).toBe('IF(FILL(accepted, 0) > 0 AND FILL(worker, 0) + FILL(lambda, 0) == 0, 1, 0)');

    const tuned = alarmByDescription(monitoringStack({ jobsStalledAfter: Duration.minutes(30) }).template, 'none was processed');
    expect(queriesOf(tuned).metrics.accepted).toBe('sluice/JobsAccepted Service=web,Stage=qa Sum/1800');
  });

  it('learns the web app\'s p99 latency with an anomaly detector and alarms when it is above the band, two of three 5-minute periods', () => {
    template.resourceCountIs('AWS::CloudWatch::AnomalyDetector', 1);
    const [[modelId, model]] = Object.entries(template.findResources('AWS::CloudWatch::AnomalyDetector'));
    expect(model.Properties).toEqual({
      SingleMetricAnomalyDetector: {
        Namespace: 'sluice',
        MetricName: 'Latency',
        Dimensions: expect.arrayContaining([{ Name: 'Stage', Value: 'qa' }, { Name: 'Service', Value: 'web' }]),
        Stat: 'p99',
      },
    });
    expect(model.Properties.SingleMetricAnomalyDetector.Dimensions).toHaveLength(2);
    const [alarmId] = Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { ComparisonOperator: 'GreaterThanUpperThreshold' } }));
    const alarm = template.findResources('AWS::CloudWatch::Alarm')[alarmId];
    expect(alarm.DependsOn).toEqual([modelId]);
    expect(alarm.Properties).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    const { expression, metrics } = queriesOf(alarm.Properties as AlarmProperties);
    const [latencyId] = Object.keys(metrics);
    expect(metrics[latencyId]).toBe('sluice/Latency Service=web,Stage=qa p99/300');
    expect(expression).toBe(`ANOMALY_DETECTION_BAND(${latencyId}, 3)`);
    // The band, not a number, is what the alarm compares against.
    expect(alarm.Properties.ThresholdMetricId).toBe((alarm.Properties.Metrics as MetricQuery[]).find((query) => query.Expression)!.Id);

    const narrow = monitoringStack({ latencyAnomalyBandWidth: 2 }).template;
    expect(JSON.stringify(narrow.findResources('AWS::CloudWatch::Alarm'))).toMatch(/ANOMALY_DETECTION_BAND\(\w+, 2\)/);
  });
});

interface DashboardWidget {
  readonly type: string;
  readonly properties: { title?: string; markdown?: string; metrics?: unknown[][]; alarms?: unknown[]; annotations?: { alarms?: unknown[] } };
}

/** `{ "Fn::GetAtt": [X, A] }` written `${X.A}`, so that an ARN inside the body stays readable. */
function getAttsAsText(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(getAttsAsText);
  if (value === null || typeof value !== 'object') return value;
  const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, getAttsAsText(entry)]));
}

function dashboardWidgets(template: Template): DashboardWidget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  return JSON.parse(String(flattenTokens(getAttsAsText(dashboards[0].Properties.DashboardBody)))).widgets;
}

describe('Monitoring: the dashboard', () => {
  const { template } = monitoringStack({}, 2, {}, (stack, monitoring) => {
    // Another construct's alarm, added after the dashboard exists.
    monitoring.addAlarm(new cloudwatch.Alarm(stack, 'LateAlarm', {
      metric: new cloudwatch.Metric({ namespace: 'Other', metricName: 'Blocked' }),
      threshold: 100,
      evaluationPeriods: 1,
      alarmDescription: 'added later',
    }));
  });
  const widgets = dashboardWidgets(template);
  const graph = (title: string) => {
    const found = widgets.filter((widget) => widget.properties.title === title);
    expect(found, title).toHaveLength(1);
    return found[0];
  };
  /** The release marker as the requirement defines it: namespace sluice, dimension Stage only, Sum, on the right axis. */
  const isReleaseMarker = (metric: unknown[]) => metric[0] === 'sluice' && metric[1] === 'ReleaseMarker';

  it('groups its widgets by what a person asks after a release', () => {
    expect(widgets.filter((widget) => widget.properties.markdown?.startsWith('## ')).map((widget) => widget.properties.markdown)).toEqual([
      '## Is it serving?', '## Is it slower?', '## Are jobs and events flowing?', '## Is anything failing?', '## Every alarm against its threshold',
    ]);
  });

  it('overlays the release marker (sluice ReleaseMarker, Stage only, Sum) on the right axis of latency, the 5xx rate and the business metrics', () => {
    for (const title of ['5xx rate (%)', 'App p99 latency (ms) and its usual band', 'Load balancer p99 response time (s)', 'Jobs per minute', 'Stream records per minute', 'Failure rates (%)']) {
      const markers = graph(title).properties.metrics!.filter(isReleaseMarker);
      expect(markers, title).toEqual([['sluice', 'ReleaseMarker', 'Stage', 'qa', expect.objectContaining({ stat: 'Sum', yAxis: 'right' })]]);
    }
    expect(graph('Jobs per minute').properties.metrics!.map((metric) => metric.slice(0, 6).join(' '))).toEqual(expect.arrayContaining([
      expect.stringContaining('sluice JobsAccepted'), expect.stringContaining('sluice JobsProcessed'), expect.stringContaining('sluice JobsFailed'),
    ]));
    // The latency graph shows the band the anomaly alarm uses.
    expect(JSON.stringify(graph('App p99 latency (ms) and its usual band').properties.metrics)).toMatch(/ANOMALY_DETECTION_BAND\(p99, 3\)/);
  });

  it('holds every alarm in one alarm-status widget, the release gate and alarms added later included', () => {
    const status = widgets.filter((widget) => widget.type === 'alarm');
    expect(status).toHaveLength(1);
    const alarmIds = [...Object.keys(template.findResources('AWS::CloudWatch::Alarm')), ...Object.keys(template.findResources('AWS::CloudWatch::CompositeAlarm'))];
    expect(alarmIds).toHaveLength(17);
    expect([...status[0].properties.alarms!].sort()).toEqual(alarmIds.map((logicalId) => `\${${logicalId}.Arn}`).sort());
  });

  it('graphs each of its own alarms against its threshold', () => {
    expect(widgets.filter((widget) => widget.properties.annotations?.alarms)).toHaveLength(15);
  });

  it('notifies the topic about an alarm added later', () => {
    expect(alarmByDescription(template, 'added later')).toMatchObject({
      AlarmActions: [{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }],
      OKActions: [{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }],
    });
  });
});
