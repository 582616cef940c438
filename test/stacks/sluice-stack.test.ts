import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { StackOutputs } from '../../lib/runtime/stack-contract.ts';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import { SluiceStack } from '../../lib/stacks/sluice-stack.ts';
import { bootScript, cloudWatchAgentConfig, referencedLogicalId } from '../helpers/instance-user-data.ts';
import { synthStage, testApp } from '../helpers/synth.ts';

const dev = synthStage('dev');
const prod = synthStage('prod', { certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234', alarmEmail: 'ops@example.com' });

describe('SluiceStack', () => {
  it('outputs everything the release CLI reads, under stable names', () => {
    const outputs = dev.template.findOutputs('*');
    const flagsOutputs = ['FlagsApplicationId', 'FlagsEnvironmentId', 'FlagsConfigurationProfileId', 'FlagsAllAtOnceStrategyId', 'FlagsGradualStrategyId'];
    expect(Object.keys(outputs).sort()).toEqual([...Object.values(StackOutputs), ...flagsOutputs].sort());
    expect(outputs.FlagsApplicationId.Value).toEqual({ Ref: expect.stringMatching(/^FeatureFlagsApplication/) });
    expect(outputs.FlagsEnvironmentId.Value).toEqual({ Ref: expect.stringMatching(/^FeatureFlagsEnvironment/) });
    expect(outputs.FlagsConfigurationProfileId.Value).toEqual({ Ref: expect.stringMatching(/^FeatureFlagsConfigurationProfile/) });
    expect(outputs.FlagsAllAtOnceStrategyId.Value).toEqual({ Ref: expect.stringMatching(/^FeatureFlagsAllAtOnceStrategy/) });
    expect(outputs.FlagsGradualStrategyId.Value).toEqual({ Ref: expect.stringMatching(/^FeatureFlagsGradualStrategy/) });
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
    expect(outputs.StreamFailureQueueUrl.Value).toEqual({ Ref: expect.stringMatching(/^EventStreamFailureQueue/) });
  });

  it('is environment-agnostic, with AZs resolved at deploy time', () => {
    expect(dev.stack.environment).toBe('aws://unknown-account/unknown-region');
    const subnets = dev.template.findResources('AWS::EC2::Subnet');
    for (const subnet of Object.values(subnets)) {
      expect(subnet.Properties.AvailabilityZone).toEqual({ 'Fn::Select': [expect.any(Number), { 'Fn::GetAZs': '' }] });
    }
  });

  /** The instance role's statements, by action list. */
  const instanceStatements = (template: typeof dev.template) => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^AppTierInstanceRole') }] } }));
    return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
  };
  it('keeps every stage\'s user data within the 16 KB EC2 allows, with every variable the stack adds (database, flags, both consumers)', () => {
    const everything = synthStage('prod', { queueConsumer: 'both', streamConsumer: 'both', externalApiUrl: 'https://api.example.com/v1/jobs' }).template;
    for (const template of [dev.template, prod.template, everything]) {
      const base64 = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData['Fn::Base64'];
      const parts: unknown[] = typeof base64 === 'string' ? [base64] : base64['Fn::Join'][1];
      // Each token (an ARN, a queue URL, the region) counted as 128 bytes, more than any of them resolves to.
      const bytes = parts.reduce<number>((sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : 128), 0);
      expect(bytes).toBeLessThan(16 * 1024);
    }
  });

  const instanceActions = (template: typeof dev.template) => instanceStatements(template).flatMap((statement) => [statement.Action].flat()).sort();
  const userData = (template: typeof dev.template) => JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
  /** The same, for template matchers. */
  const templateArnOf = (logicalIdPattern: RegExp) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(logicalIdPattern.source), 'Arn'] });

  /** The instance role's grants on the queues, the stream and the table, as `action on <logical id>`. */
  const dataGrants = (template: typeof dev.template) => instanceStatements(template)
    .flatMap((statement) => [statement.Action].flat().flatMap((action) => [statement.Resource].flat().map((resource) => {
      const logicalId = (resource as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0] ?? JSON.stringify(resource);
      return `${action} on ${logicalId.replace(/[0-9A-F]{8}$/, '')}`;
    })))
    .filter((grant) => /^(kinesis|dynamodb|sqs):/.test(grant))
    .sort();
  const producerGrants = ['kinesis:PutRecord on EventStream', 'kinesis:PutRecords on EventStream', 'sqs:SendMessage on WorkQueue'];

  it('lets the instances consume the queue and read the stream with exactly the calls the consumers make, and produce with exactly the calls the web app makes', () => {
    // Nothing more on the stream, the table or any queue: no deleting leases, no other queue to send to.
    expect(dataGrants(dev.template)).toEqual([
      'dynamodb:GetItem on EventStreamCheckpointTable', 'dynamodb:Scan on EventStreamCheckpointTable', 'dynamodb:UpdateItem on EventStreamCheckpointTable',
      'kinesis:GetRecords on EventStream', 'kinesis:GetShardIterator on EventStream', 'kinesis:ListShards on EventStream',
      'kinesis:PutRecord on EventStream', 'kinesis:PutRecords on EventStream',
      'sqs:ChangeMessageVisibility on WorkQueue', 'sqs:DeleteMessage on WorkQueue', 'sqs:GetQueueAttributes on WorkQueue', 'sqs:GetQueueUrl on WorkQueue', 'sqs:ReceiveMessage on WorkQueue',
      'sqs:SendMessage on EventStreamFailureQueue', 'sqs:SendMessage on WorkQueue',
    ]);
    // KMS only to read release artifacts: Decrypt, on exactly the artifact bucket's key (the queues,
    // the stream and the table use AWS-managed keys).
    const kmsStatements = instanceStatements(dev.template).filter((statement) => [statement.Action].flat().some((action) => action.startsWith('kms:')));
    expect(kmsStatements).toEqual([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ReleaseArtifactKey/), 'Arn'] } }]);
  });

  it('lets the web app produce whoever consumes: exactly sqs:SendMessage on the work queue and kinesis:PutRecord(s) on the stream', () => {
    expect(dataGrants(synthStage('dev', { queueConsumer: 'lambda', streamConsumer: 'lambda' }).template)).toEqual(producerGrants);
  });

  it('tells the instances where the queue, stream, checkpoints and failure queue are', () => {
    expect(userData(dev.template)).toMatch(/\\nWORK_QUEUE_URL=",\{"Ref":"WorkQueue/);
    expect(userData(dev.template)).toMatch(/\\nEVENT_STREAM_NAME=",\{"Ref":"EventStream/);
    expect(userData(dev.template)).toMatch(/\\nQUEUE_URL=",\{"Ref":"WorkQueue/);
    expect(userData(dev.template)).toMatch(/\\nSTREAM_NAME=",\{"Ref":"EventStream/);
    expect(userData(dev.template)).toMatch(/\\nCHECKPOINT_TABLE_NAME=",\{"Ref":"EventStreamCheckpointTable/);
    expect(userData(dev.template)).toMatch(/\\nSTREAM_FAILURE_QUEUE_URL=",\{"Ref":"EventStreamFailureQueue/);
  });

  it('consumes the queue on the instances by default, with Lambda or both when configured', () => {
    dev.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    const sqsConsume = 'sqs:ReceiveMessage';

    const lambdaOnly = synthStage('dev', { queueConsumer: 'lambda' }).template;
    lambdaOnly.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: templateArnOf(/^WorkQueue/), FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(instanceActions(lambdaOnly)).not.toContain(sqsConsume);
    expect(userData(lambdaOnly)).not.toMatch(/\\nQUEUE_URL=/);
    // The web app still sends there.
    expect(userData(lambdaOnly)).toMatch(/\\nWORK_QUEUE_URL=",\{"Ref":"WorkQueue/);

    const both = synthStage('dev', { queueConsumer: 'both' }).template;
    both.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    expect(instanceActions(both)).toContain(sqsConsume);
    expect(userData(both)).toMatch(/\\nQUEUE_URL=/);
  });

  it('reads the stream on the instances by default, with Lambda or both when configured', () => {
    const streamActions = ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards', 'sqs:SendMessage'];
    const streamEnvironment = /\\n(STREAM_NAME|CHECKPOINT_TABLE_NAME|STREAM_FAILURE_QUEUE_URL)=/g;
    const kinesisMapping = { EventSourceArn: templateArnOf(/^EventStream[0-9A-F]{8}$/), FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true };

    const lambdaOnly = synthStage('dev', { streamConsumer: 'lambda' });
    lambdaOnly.template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', kinesisMapping, 1);
    expect(dataGrants(lambdaOnly.template).filter((grant) => !producerGrants.includes(grant))).toEqual(['sqs:ChangeMessageVisibility on WorkQueue', 'sqs:DeleteMessage on WorkQueue', 'sqs:GetQueueAttributes on WorkQueue', 'sqs:GetQueueUrl on WorkQueue', 'sqs:ReceiveMessage on WorkQueue']);
    expect(userData(lambdaOnly.template).match(streamEnvironment)).toBeNull();
    expect(userData(lambdaOnly.template)).toMatch(/\\nEVENT_STREAM_NAME=",\{"Ref":"EventStream/);
    // The output stays: Lambda's on-failure records land in the same failure queue.
    expect(lambdaOnly.template.findOutputs('StreamFailureQueueUrl')).toHaveProperty('StreamFailureQueueUrl');

    const both = synthStage('dev', { streamConsumer: 'both' }).template;
    both.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', kinesisMapping, 1);
    expect(instanceActions(both)).toEqual(expect.arrayContaining(streamActions));
    expect(userData(both).match(streamEnvironment)).toHaveLength(3);

    dev.template.resourcePropertiesCountIs('AWS::Lambda::EventSourceMapping', kinesisMapping, 0);
  });

  it('gives the work handler the external API URL on the instances and in the Lambda consumer, none by default', () => {
    const url = 'https://api.example.com/v1/jobs';
    expect(userData(dev.template)).not.toMatch(/EXTERNAL_API_URL/);
    const configured = synthStage('dev', { externalApiUrl: url, queueConsumer: 'both' }).template;
    expect(userData(configured)).toContain(`\\nEXTERNAL_API_URL=${url}\\n`);
    configured.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ EXTERNAL_API_URL: url }) },
    });
  });

  it('names the stage in SLUICE_STAGE on the instances and in both Lambda consumers (the Stage dimension of every metric)', () => {
    expect(userData(dev.template)).toContain('\\nSLUICE_STAGE=dev\\n');
    expect(userData(prod.template)).toContain('\\nSLUICE_STAGE=prod\\n');
    const lambdas = synthStage('prod', { queueConsumer: 'lambda', streamConsumer: 'lambda' }).template;
    lambdas.resourcePropertiesCountIs('AWS::Lambda::Function', { Handler: 'index.handler', Environment: { Variables: Match.objectLike({ SLUICE_STAGE: 'prod' }) } }, 2);
  });

  it('ships the web app\'s and the worker\'s logs to /sluice/<stage>/web and /worker, and the Lambda consumers log to their own groups, all encrypted and kept the stage\'s retention', () => {
    const groupNames = (template: typeof dev.template, script = bootScript(template)) => cloudWatchAgentConfig(script).logs.logs_collected.files.collect_list
      .map((file) => template.findResources('AWS::Logs::LogGroup')[referencedLogicalId(file.log_group_name)].Properties.LogGroupName).sort();
    expect(groupNames(dev.template)).toEqual(['/sluice/dev/web', '/sluice/dev/worker']);
    expect(groupNames(prod.template)).toEqual(['/sluice/prod/web', '/sluice/prod/worker']);

    const lambdas = synthStage('dev', { queueConsumer: 'both', streamConsumer: 'both', logRetention: 731 }).template;
    const groups = Object.entries(lambdas.findResources('AWS::Logs::LogGroup')).filter(([id]) => !id.startsWith('AppTierFlowLog'));
    expect(groups.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['AppTierWebLogs', 'AppTierWorkerLogs', 'EventStreamConsumerLogs', 'WorkQueueConsumerLogs']);
    for (const [, group] of groups) {
      expect(group.Properties).toMatchObject({ RetentionInDays: 731, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LogEncryptionKey/), 'Arn'] } });
    }
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

  it('deploys the app\'s flags with the release gate as monitor, and lets the instances read exactly that configuration', () => {
    dev.template.hasResourceProperties('AWS::AppConfig::Environment', { Monitors: [Match.objectLike({ AlarmArn: templateArnOf(/^MonitoringReleaseGate/) })] });
    const content = JSON.parse(Object.values(dev.template.findResources('AWS::AppConfig::HostedConfigurationVersion'))[0].Properties.Content);
    // lib/runtime/app/flags.ts ships jobs-batch-submit dark: off, at 0 %.
    expect(content.values['jobs-batch-submit']).toEqual({ enabled: false, percentage: 0 });
    const appconfigStatements = instanceStatements(dev.template).filter((statement) => [statement.Action].flat().some((action) => action.startsWith('appconfig:')));
    expect(appconfigStatements).toHaveLength(1);
    expect([appconfigStatements[0].Action].flat().sort()).toEqual(['appconfig:GetLatestConfiguration', 'appconfig:StartConfigurationSession']);
    expect(JSON.stringify(appconfigStatements[0].Resource)).toMatch(/application\/".*FeatureFlagsApplication.*\/environment\/".*FeatureFlagsEnvironment.*\/configuration\/".*FeatureFlagsConfigurationProfile/);
    for (const name of ['FLAGS_APPLICATION_ID', 'FLAGS_ENVIRONMENT_ID', 'FLAGS_CONFIGURATION_PROFILE_ID']) expect(userData(dev.template)).toContain(`${name}=`);
  });

  it('puts the web firewall in front of the load balancer in prod, with its widgets on the dashboard and its alarm on the alarm topic; not in dev', () => {
    dev.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    prod.template.resourceCountIs('AWS::WAFv2::WebACL', 1);
    prod.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { ResourceArn: { Ref: Match.stringLikeRegexp('^AppTierLoadBalancer') } });
    prod.template.hasResourceProperties('AWS::WAFv2::WebACL', { Name: 'sluice-prod' });
    prod.template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/WAFV2', MetricName: 'BlockedRequests', AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }], OKActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }] });
    const dashboard = JSON.stringify(Object.values(prod.template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(dashboard).toContain('Web firewall: blocked requests by rule');
    expect(dashboard).toContain('AWS/WAFV2');
  });

  it('sizes prod for an AZ outage', () => {
    prod.template.resourceCountIs('AWS::EC2::NatGateway', 2);
    prod.template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ InstanceType: 't3.medium' }) });
    prod.template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '2', MaxSize: '8' });
  });

  it.each([['dev', dev], ['prod with HTTPS and e-mail', prod], ['dev with the Lambda consumers too', synthStage('dev', { queueConsumer: 'both', streamConsumer: 'both' })]])('has no unacknowledged AWS Solutions findings (%s)', (_name, { app }) => {
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
      // cdk-nag's EC26 throws on a group with a mixed instances policy; the app tier's tests check the volume's encryption.
      'Annotation::AwsSolutions-EC26',
      'Annotation::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      // elasticloadbalancing:DescribeTargetHealth, which a booting instance calls before it signals.
      'Annotation::AwsSolutions-IAM5[Resource::*]',
      expect.stringMatching(/^Annotation::AwsSolutions-IAM5\[Resource::<ReleaseArtifactBucket[0-9A-F]{8}\.Arn>\/releases\/\*\]$/),
      'Annotation::AwsSolutions-S1',
      'Annotation::AwsSolutions-SQS3',
    ]);
    for (const [, reason] of acknowledgements) {
      expect(reason.length).toBeGreaterThan(60);
      expect(reason).not.toMatch(/^(not needed|n\/a|ok)\.?$/i);
    }
  });

  it('deploys the AMI recorded in cdk.context.json; the offline template, never deployed, names the public parameter', () => {
    const app = testApp();
    app.node.setContext('ssm:account=123456789012:parameterName=/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64:region=eu-west-1', 'ami-0abcdef1234567890');
    const deployable = Template.fromStack(new SluiceStack(app, 'sluice-prod', { config: resolveStageConfig('prod'), env: { account: '123456789012', region: 'eu-west-1' } }));
    deployable.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ ImageId: 'ami-0abcdef1234567890' }) });
    expect(deployable.findParameters('*', { Type: Match.stringLikeRegexp('Image::Id') })).toEqual({});
    dev.template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ ImageId: { Ref: Match.stringLikeRegexp('al2023') } }) });
  });

  it('matches the snapshot, with asset hashes masked', () => {
    const masked = JSON.stringify(dev.template.toJSON(), null, 1).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '[ASSET HASH]');
    expect(masked).toMatchSnapshot();
  });
});
