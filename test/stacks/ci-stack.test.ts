import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CiStack } from '../../lib/stacks/ci-stack.ts';
import { flattenTokens, iamPattern } from '../helpers/iam-policy.ts';
import { synthStage, testApp } from '../helpers/synth.ts';

function synthCi() {
  const app = testApp();
  const stack = new CiStack(app, 'sluice-ci', { githubRepository: 'octo-org/octo-repo', stages: ['dev', 'prod'] });
  return { app, stack, template: Template.fromStack(stack) };
}

const ci = synthCi();

/** The deploy role's statements by Sid, ARNs flattened. */
function deployStatements(): Record<string, { Resource: string | string[]; Condition?: Record<string, Record<string, unknown>> }> {
  const roleId = Object.keys(ci.template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('GithubOidcDeployRole'));
  const policy = Object.values(ci.template.findResources('AWS::IAM::Policy')).find((candidate) => candidate.Properties.Roles[0].Ref === roleId);
  const statements = flattenTokens(policy?.Properties.PolicyDocument.Statement) as { Sid: string; Resource: string | string[] }[];
  return Object.fromEntries(statements.map((statement) => [statement.Sid, statement]));
}

/** Whether any of the statement's resource patterns matches `arn`. */
const allows = (resource: string | string[], arn: string) => [resource].flat().some((pattern) => iamPattern(pattern).test(arn));

describe('CiStack', () => {
  it('outputs the two role ARNs the workflows read, and the provider for a second CI stack', () => {
    const outputs = ci.template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(['DeployRoleArn', 'GithubOidcProviderArn', 'PullRequestRoleArn']);
    expect(outputs.PullRequestRoleArn.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GithubOidcPullRequestRole/), 'Arn'] });
    expect(outputs.DeployRoleArn.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GithubOidcDeployRole/), 'Arn'] });
    expect(outputs.PullRequestRoleArn.Description).toContain('AWS_PR_ROLE_ARN');
    expect(outputs.DeployRoleArn.Description).toContain('AWS_DEPLOY_ROLE_ARN');
  });

  it('has no unacknowledged AWS Solutions findings', () => {
    const report = new AwsSolutionsChecks(ci.app).validateScope(ci.app);
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges only wildcard resources, each with a specific reason', () => {
    const acknowledgements = ci.stack.node.findAll().flatMap((construct) => construct.node.metadata
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-')));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(id).toMatch(/^Annotation::AwsSolutions-IAM5\[Resource::/);
      expect(reason.length).toBeGreaterThan(60);
    }
  });

  // The CI stack cannot reference a stage's resources (it is deployed first, and alone), so its
  // patterns must match what the stage stack really creates: checked here against the dev stack.
  describe('scopes match what the stage stack creates', () => {
    const dev = synthStage('dev').template;
    const statements = deployStatements();
    const resources = (type: string) => Object.entries(dev.findResources(type));

    it('tags the target group, the group and the instances it launches with the stage, as the tag conditions expect', () => {
      const tag = { Key: 'sluice:stage', Value: 'dev' };
      for (const [, group] of resources('AWS::AutoScaling::AutoScalingGroup')) expect(group.Properties.Tags).toContainEqual({ ...tag, PropagateAtLaunch: true });
      for (const [, targetGroup] of resources('AWS::ElasticLoadBalancingV2::TargetGroup')) expect(targetGroup.Properties.Tags).toContainEqual(tag);
      const [, launchTemplate] = resources('AWS::EC2::LaunchTemplate')[0];
      const instanceTags = launchTemplate.Properties.LaunchTemplateData.TagSpecifications.find((spec: { ResourceType: string }) => spec.ResourceType === 'instance');
      expect(instanceTags.Tags).toContainEqual(tag);
      expect(statements.MoveTargetsOfStageTargetGroups.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/sluice:stage': ['dev', 'prod'] } });
      expect(statements.HoldStageGroups.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/sluice:stage': ['dev', 'prod'] } });
      expect(statements.RunCommandsOnStageInstances.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/sluice:stage': ['dev', 'prod'] } });
    });

    it('tags every AppConfig resource the flags calls are authorized on with the stage, and leaves the untagged ones to the application', () => {
      const tag = { Key: 'sluice:stage', Value: 'dev' };
      for (const type of ['AWS::AppConfig::Application', 'AWS::AppConfig::Environment', 'AWS::AppConfig::ConfigurationProfile', 'AWS::AppConfig::DeploymentStrategy']) {
        expect(resources(type).length).toBeGreaterThan(0);
        for (const [, resource] of resources(type)) expect(resource.Properties.Tags).toContainEqual(tag);
      }
      const region = 'arn:${AWS::Partition}:appconfig:${AWS::Region}:${AWS::AccountId}';
      // The application ARN itself is only in the tag-conditioned statement.
      expect(allows(statements.StageFlagsVersionsAndDeployments.Resource, `${region}:application/abc1234`)).toBe(false);
      expect(allows(statements.StageFlagsVersionsAndDeployments.Resource, `${region}:application/abc1234/environment/def5678`)).toBe(false);
      expect(allows(statements.StageFlagsVersionsAndDeployments.Resource, `${region}:application/abc1234/configurationprofile/ghi9012`)).toBe(false);
      expect(allows(statements.StageFlagsVersionsAndDeployments.Resource, `${region}:application/abc1234/configurationprofile/ghi9012/hostedconfigurationversion/3`)).toBe(true);
      expect(allows(statements.StageFlagsVersionsAndDeployments.Resource, `${region}:application/abc1234/environment/def5678/deployment/7`)).toBe(true);
      expect(allows(statements.StageFlagsApplications.Resource, `${region}:application/abc1234`)).toBe(true);
      expect(allows(statements.StageFlagsApplications.Resource, `${region}:deploymentstrategy/jkl3456`)).toBe(true);
      expect(statements.StageFlagsApplications.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/sluice:stage': ['dev', 'prod'] } });
    });

    it("matches the release table's generated name and not the checkpoint table's", () => {
      // DynamoDB names a table <stack>-<logical ID>-<12 random characters>.
      const tableArn = (logicalId: string) => `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/sluice-dev-${logicalId}-1A2B3C4D5E6F`;
      const tables = Object.fromEntries(resources('AWS::DynamoDB::Table').map(([id]) => [id.replace(/[0-9A-F]{8}$/, ''), id]));
      expect(Object.keys(tables).sort()).toEqual(['EventStreamCheckpointTable', 'ReleaseReleaseTable']);
      expect(allows(statements.ReleaseTables.Resource, tableArn(tables.ReleaseReleaseTable))).toBe(true);
      expect(allows(statements.ReleaseTables.Resource, tableArn(tables.EventStreamCheckpointTable))).toBe(false);
    });

    it("matches the artifact bucket's generated name and not the access-logs bucket's", () => {
      // A bucket is named <stack>-<logical ID, lower case>-<12 random characters>.
      const objectArn = (logicalId: string) => `arn:\${AWS::Partition}:s3:::sluice-dev-${logicalId.toLowerCase()}-1a2b3c4d5e6f/releases/abc123.tgz.sha256`;
      const buckets = Object.fromEntries(resources('AWS::S3::Bucket').map(([id]) => [id.replace(/[0-9A-F]{8}$/, ''), id]));
      expect(Object.keys(buckets).sort()).toEqual(['AccessLogsBucket', 'ReleaseArtifactBucket']);
      expect(allows(statements.ReleaseArtifacts.Resource, objectArn(buckets.ReleaseArtifactBucket))).toBe(true);
      expect(allows(statements.ReleaseArtifacts.Resource, objectArn(buckets.AccessLogsBucket))).toBe(false);
      expect(allows(statements.ListArtifactBuckets.Resource, `arn:\${AWS::Partition}:s3:::sluice-dev-${buckets.ReleaseArtifactBucket.toLowerCase()}-1a2b3c4d5e6f`)).toBe(true);
    });

    it("names the stage's current-version parameter and stack", () => {
      dev.hasResourceProperties('AWS::SSM::Parameter', { Name: '/sluice/dev/current-version' });
      expect(allows(statements.CurrentVersionParameters.Resource, 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sluice/dev/current-version')).toBe(true);
      expect(allows(statements.ReadStageStacks.Resource, 'arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/sluice-dev/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab')).toBe(true);
      expect(allows(statements.ReadStageStacks.Resource, 'arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/sluice-ci/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab')).toBe(false);
    });
  });
});
