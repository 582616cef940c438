import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { FeatureFlags, type FeatureFlagsSettings } from '../../lib/constructs/feature-flags/feature-flags.ts';
import type { FlagDefinition } from '../../lib/runtime/flags/flag-definition.ts';
import { testStack } from '../helpers/synth.ts';

const rollout: FlagDefinition = { name: 'new-checkout', description: 'The new checkout page.', owner: 'payments', kind: 'rollout', default: false, percentage: 0 };
const flags: FlagDefinition[] = [
  rollout,
  { name: 'search', description: 'Search.', owner: 'search', kind: 'kill-switch', default: true },
];

function flagsStack(settings: FeatureFlagsSettings = {}, declarations: readonly FlagDefinition[] = flags) {
  const stack = testStack();
  const gate = new cloudwatch.Alarm(stack, 'Gate', { metric: new cloudwatch.Metric({ namespace: 'Test', metricName: 'Errors' }), threshold: 1, evaluationPeriods: 1 });
  const featureFlags = new FeatureFlags(stack, 'Flags', { ...settings, stageName: 'test', flags: declarations });
  featureFlags.addMonitor(gate);
  const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  featureFlags.grantRead(reader);
  return { stack, featureFlags, template: Template.fromStack(stack) };
}

const ref = (prefix: string) => ({ Ref: Match.stringLikeRegexp(`^${prefix}`) });

describe('FeatureFlags', () => {
  const { template } = flagsStack();

  it('has one application per stage with one environment whose monitor is the release gate, read through a role scoped to that alarm', () => {
    template.resourceCountIs('AWS::AppConfig::Application', 1);
    template.hasResourceProperties('AWS::AppConfig::Application', { Name: 'sluice-test' });
    template.resourceCountIs('AWS::AppConfig::Environment', 1);
    template.hasResourceProperties('AWS::AppConfig::Environment', {
      ApplicationId: ref('FlagsApplication'),
      Name: 'test',
      Monitors: [{ AlarmArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Gate'), 'Arn'] }, AlarmRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FlagsMonitorRole'), 'Arn'] } }],
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Action: 'sts:AssumeRole', Principal: { Service: 'appconfig.amazonaws.com' } })] },
      Policies: [{ PolicyName: 'ReadMonitors', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Gate'), 'Arn'] } }], Version: '2012-10-17' } }],
    });
  });

  it('hosts the declarations as an AWS.AppConfig.FeatureFlags version and deploys it all at once', () => {
    template.hasResourceProperties('AWS::AppConfig::ConfigurationProfile', { ApplicationId: ref('FlagsApplication'), LocationUri: 'hosted', Type: 'AWS.AppConfig.FeatureFlags' });
    const versions = Object.values(template.findResources('AWS::AppConfig::HostedConfigurationVersion'));
    expect(versions).toHaveLength(1);
    expect(versions[0].Properties.ContentType).toBe('application/json');
    const document = JSON.parse(versions[0].Properties.Content);
    expect(Object.keys(document.flags)).toEqual(['new-checkout', 'search']);
    expect(document.values).toEqual({ 'new-checkout': { enabled: false, percentage: 0 }, search: { enabled: true } });
    template.hasResourceProperties('AWS::AppConfig::Deployment', {
      ApplicationId: ref('FlagsApplication'),
      EnvironmentId: ref('FlagsEnvironment'),
      ConfigurationProfileId: ref('FlagsConfigurationProfile'),
      ConfigurationVersion: ref('FlagsDeclarations'),
      DeploymentStrategyId: ref('FlagsAllAtOnceStrategy'),
    });
  });

  it('changes the hosted version only when the declarations change', () => {
    const content = (declarations: readonly FlagDefinition[]) => Object.values(flagsStack({}, declarations).template.findResources('AWS::AppConfig::HostedConfigurationVersion'))[0].Properties.Content;
    expect(content([...flags])).toBe(content(flags));
    expect(content([...flags, { ...flags[1], name: 'another' }])).not.toBe(content(flags));
  });

  it('has an all-at-once strategy with no bake for kill switches and a gradual one whose bake outlasts the gate', () => {
    template.hasResourceProperties('AWS::AppConfig::DeploymentStrategy', {
      Name: 'sluice-test-all-at-once', DeploymentDurationInMinutes: 0, GrowthFactor: 100, FinalBakeTimeInMinutes: 0, ReplicateTo: 'NONE',
    });
    // The gate's slowest member needs 3 one-minute datapoints plus ~1 minute of metric delay and a poll interval.
    template.hasResourceProperties('AWS::AppConfig::DeploymentStrategy', {
      Name: 'sluice-test-gradual', GrowthType: 'LINEAR', DeploymentDurationInMinutes: 4, GrowthFactor: 25, FinalBakeTimeInMinutes: 10, ReplicateTo: 'NONE',
    });
    flagsStack({ flagsRolloutDuration: Duration.minutes(20), flagsRolloutGrowthFactor: 10, flagsRolloutBakeTime: Duration.minutes(30) }).template
      .hasResourceProperties('AWS::AppConfig::DeploymentStrategy', { Name: 'sluice-test-gradual', DeploymentDurationInMinutes: 20, GrowthFactor: 10, FinalBakeTimeInMinutes: 30 });
  });

  it('lets a reader read exactly this configuration through AppConfig Data, nothing else', () => {
    const policy = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [ref('Reader')] } }))[0];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{
      Effect: 'Allow',
      Action: ['appconfig:GetLatestConfiguration', 'appconfig:StartConfigurationSession'],
      Resource: { 'Fn::Join': ['', [
        'arn:', { Ref: 'AWS::Partition' }, ':appconfig:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
        ':application/', { Ref: expect.stringMatching(/^FlagsApplication/) },
        '/environment/', { Ref: expect.stringMatching(/^FlagsEnvironment/) },
        '/configuration/', { Ref: expect.stringMatching(/^FlagsConfigurationProfile/) },
      ]] },
    }]);
  });

  it('gives the flags client its three ids', () => {
    const { featureFlags, stack } = flagsStack();
    const resolved = stack.resolve(featureFlags.clientEnvironment);
    expect(resolved).toEqual({
      FLAGS_APPLICATION_ID: { Ref: expect.stringMatching(/^FlagsApplication/) },
      FLAGS_ENVIRONMENT_ID: { Ref: expect.stringMatching(/^FlagsEnvironment/) },
      FLAGS_CONFIGURATION_PROFILE_ID: { Ref: expect.stringMatching(/^FlagsConfigurationProfile/) },
    });
  });

  it('refuses to synthesize without the release gate as monitor', () => {
    const stack = testStack();
    new FeatureFlags(stack, 'Flags', { stageName: 'test', flags });
    expect(() => Template.fromStack(stack)).toThrow(/feature flags need exactly one monitor, the release gate: call addMonitor\(releaseGate\) once \(given 0\)/);
  });

  it('fails synth on bad declarations, listing every problem', () => {
    expect(() => flagsStack({}, [{ ...rollout, percentage: 150 }, { ...rollout }])).toThrow([
      'Invalid feature-flag declarations in lib/runtime/app/flags.ts:',
      '  - flag "new-checkout": percentage must be a number between 0 and 100 (given 150)',
      '  - flag "new-checkout" is declared 2 times (flags[0], flags[1]): flag names must be unique, rename or remove all but one',
    ].join('\n'));
  });

  it('validates the strategy settings, every problem at once', () => {
    expect(() => flagsStack({ flagsRolloutDuration: Duration.seconds(90), flagsRolloutGrowthFactor: 0, flagsRolloutBakeTime: Duration.days(2) })).toThrow([
      'Invalid feature flags settings:',
      '  - flagsRolloutDuration must be a whole number of minutes between 0 and 1440 (given 1 minute 30 seconds)',
      '  - flagsRolloutBakeTime must be a whole number of minutes between 0 and 1440 (given 2 days)',
      '  - flagsRolloutGrowthFactor must be between 1 and 100 percent (given 0)',
    ].join('\n'));
  });

  it('warns when the bake is too short for the gate to fire', () => {
    const { stack } = flagsStack({ flagsRolloutBakeTime: Duration.minutes(2) });
    Annotations.fromStack(stack).hasWarning('/TestStack/Flags', Match.stringLikeRegexp('flagsRolloutBakeTime is 2 minutes: the release gate needs about 5 minutes to fire'));
    expect(Annotations.fromStack(flagsStack().stack).findWarning('*', Match.stringLikeRegexp('flagsRolloutBakeTime'))).toEqual([]);
  });
});
