import { Duration } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { GithubOidc, type GithubOidcProps } from '../../lib/constructs/github-oidc/github-oidc.ts';
import { flattenTokens, webIdentityMayAssume } from '../helpers/iam-policy.ts';
import { testStack } from '../helpers/synth.ts';

const repository = 'octo-org/octo-repo';

function synth(props: Partial<GithubOidcProps> = {}): { oidc: GithubOidc; template: Template } {
  const stack = testStack();
  const oidc = new GithubOidc(stack, 'GithubOidc', { githubRepository: repository, stages: ['dev', 'prod'], ...props });
  return { oidc, template: Template.fromStack(stack) };
}

/** The one resource of `type` whose logical ID starts with `prefix`. */
function resourceOf(template: Template, type: string, prefix: string): { id: string; properties: Record<string, any> } {
  const matches = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  expect(matches.map(([id]) => id)).toHaveLength(1);
  return { id: matches[0][0], properties: matches[0][1].Properties };
}

const trustOf = (template: Template, rolePrefix: string) => resourceOf(template, 'AWS::IAM::Role', rolePrefix).properties.AssumeRolePolicyDocument;

/** The statements of a role's policy, ARNs flattened to `arn:${AWS::Partition}:…`. */
function statementsOf(template: Template, rolePrefix: string): Record<string, unknown>[] {
  const role = resourceOf(template, 'AWS::IAM::Role', rolePrefix).id;
  const statements = new Capture();
  template.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: role }], PolicyDocument: { Statement: statements } });
  return flattenTokens(statements.asArray()) as Record<string, unknown>[];
}

const aud = 'token.actions.githubusercontent.com:aud';
const sub = 'token.actions.githubusercontent.com:sub';
function errorMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

const token = (subject: string, audience = 'sts.amazonaws.com') => ({ [aud]: audience, [sub]: subject });

describe('GithubOidc', () => {
  const { template } = synth();
  const provider = { Ref: resourceOf(template, 'AWS::IAM::OIDCProvider', 'GithubOidcProvider').id };

  it("creates GitHub's provider natively, for the STS audience, with no custom-resource Lambda", () => {
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
      ThumbprintList: Match.absent(),
    });
    template.resourceCountIs('AWS::Lambda::Function', 0);
    expect(Object.keys(template.toJSON().Resources).filter((id) => template.toJSON().Resources[id].Type.startsWith('Custom::'))).toEqual([]);
  });

  it('trusts the pull-request role to pull requests of this repository only, for the STS audience', () => {
    expect(trustOf(template, 'GithubOidcPullRequestRole')).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Principal: { Federated: provider },
        Condition: { StringEquals: { [aud]: 'sts.amazonaws.com', [sub]: 'repo:octo-org/octo-repo:pull_request' } },
      }],
    });
  });

  it('trusts the deploy role to pushes to main and jobs in the prod environment of this repository only', () => {
    expect(trustOf(template, 'GithubOidcDeployRole')).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Principal: { Federated: provider },
        Condition: {
          StringEquals: {
            [aud]: 'sts.amazonaws.com',
            [sub]: ['repo:octo-org/octo-repo:ref:refs/heads/main', 'repo:octo-org/octo-repo:environment:prod'],
          },
        },
      }],
    });
  });

  it.each([
    ['a pull request of this repository', token('repo:octo-org/octo-repo:pull_request'), { pullRequest: true, deploy: false }],
    ['a push to main', token('repo:octo-org/octo-repo:ref:refs/heads/main'), { pullRequest: false, deploy: true }],
    ['a job in the prod environment', token('repo:octo-org/octo-repo:environment:prod'), { pullRequest: false, deploy: true }],
    ['a push to another branch', token('repo:octo-org/octo-repo:ref:refs/heads/feature'), { pullRequest: false, deploy: false }],
    ['a pushed tag', token('repo:octo-org/octo-repo:ref:refs/tags/v1.0.0'), { pullRequest: false, deploy: false }],
    ['a job in another environment', token('repo:octo-org/octo-repo:environment:dev'), { pullRequest: false, deploy: false }],
    ["another repository's pull request", token('repo:octo-org/other-repo:pull_request'), { pullRequest: false, deploy: false }],
    ["another repository's main", token('repo:octo-org/other-repo:ref:refs/heads/main'), { pullRequest: false, deploy: false }],
    ['a repository whose name extends this one', token('repo:octo-org/octo-repo-fork:ref:refs/heads/main'), { pullRequest: false, deploy: false }],
    ['a token for another audience', token('repo:octo-org/octo-repo:ref:refs/heads/main', 'https://github.com/octo-org'), { pullRequest: false, deploy: false }],
  ])('lets %s assume exactly the roles meant for it', (_name, claims, expected) => {
    expect({
      pullRequest: webIdentityMayAssume(trustOf(template, 'GithubOidcPullRequestRole'), provider, claims),
      deploy: webIdentityMayAssume(trustOf(template, 'GithubOidcDeployRole'), provider, claims),
    }).toEqual(expected);
  });

  it('limits sessions to one hour by default', () => {
    for (const prefix of ['GithubOidcPullRequestRole', 'GithubOidcDeployRole']) {
      expect(resourceOf(template, 'AWS::IAM::Role', prefix).properties.MaxSessionDuration).toBe(3600);
    }
    expect(resourceOf(synth({ maxSessionDuration: Duration.hours(2) }).template, 'AWS::IAM::Role', 'GithubOidcDeployRole').properties.MaxSessionDuration).toBe(7200);
  });

  const arn = (service: string, resource: string) => `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`;
  const bootstrapRole = (kind: string) => `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/cdk-hnb659fds-${kind}-role-\${AWS::AccountId}-\${AWS::Region}`;
  const stageStacks = [arn('cloudformation', 'stack/sluice-dev/*'), arn('cloudformation', 'stack/sluice-prod/*')];

  it('lets the pull-request role do what cdk diff reads and nothing more', () => {
    expect(statementsOf(template, 'GithubOidcPullRequestRole')).toEqual([
      { Sid: 'AssumeCdkLookupRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: bootstrapRole('lookup') },
      { Sid: 'ReadStageStacks', Effect: 'Allow', Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'], Resource: stageStacks },
    ]);
  });

  it('lets the deploy role assume the bootstrap roles cdk deploy uses, and make exactly the calls sluice release and sluice flags make, on the stages\' resources', () => {
    const stageTag = { StringEquals: { 'aws:ResourceTag/sluice:stage': ['dev', 'prod'] } };
    const inThisAccount = { StringEquals: { 'aws:ResourceAccount': '${AWS::AccountId}' } };
    expect(statementsOf(template, 'GithubOidcDeployRole')).toEqual([
      { Sid: 'AssumeCdkBootstrapRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: [bootstrapRole('deploy'), bootstrapRole('file-publishing'), bootstrapRole('lookup')] },
      {
        Sid: 'CallsWithoutResourceLevelPermissions',
        Effect: 'Allow',
        Action: [
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeInstanceRefreshes',
          'cloudwatch:GetMetricData',
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
          'ssm:CancelCommand',
          'ssm:GetCommandInvocation',
        ],
        Resource: '*',
      },
      // The release marker: metrics in the sluice namespace only.
      { Sid: 'PublishReleaseMarker', Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'sluice' } } },
      { Sid: 'MoveTargetsOfStageTargetGroups', Effect: 'Allow', Action: ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets'], Resource: arn('elasticloadbalancing', 'targetgroup/*/*'), Condition: stageTag },
      { Sid: 'HoldStageGroups', Effect: 'Allow', Action: ['autoscaling:ResumeProcesses', 'autoscaling:SuspendProcesses'], Resource: arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'), Condition: stageTag },
      { Sid: 'RunShellScriptDocument', Effect: 'Allow', Action: 'ssm:SendCommand', Resource: 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript' },
      { Sid: 'RunCommandsOnStageInstances', Effect: 'Allow', Action: 'ssm:SendCommand', Resource: arn('ec2', 'instance/*'), Condition: { StringEquals: { 'ssm:resourceTag/sluice:stage': ['dev', 'prod'] } } },
      { Sid: 'CurrentVersionParameters', Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:PutParameter'], Resource: [arn('ssm', 'parameter/sluice/dev/current-version'), arn('ssm', 'parameter/sluice/prod/current-version')] },
      // Read only: the stack writes it, after the migrations ran.
      { Sid: 'ReadSchemaVersionParameters', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: [arn('ssm', 'parameter/sluice/dev/schema-version'), arn('ssm', 'parameter/sluice/prod/schema-version')] },
      { Sid: 'ReadAlarms', Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: arn('cloudwatch', 'alarm:*') },
      {
        Sid: 'ReleaseTables',
        Effect: 'Allow',
        Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: [arn('dynamodb', 'table/sluice-dev-ReleaseReleaseTable*'), arn('dynamodb', 'table/sluice-prod-ReleaseReleaseTable*')],
      },
      {
        Sid: 'ReleaseArtifacts',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: ['arn:${AWS::Partition}:s3:::sluice-dev-releaseartifactbucket*/releases/*', 'arn:${AWS::Partition}:s3:::sluice-prod-releaseartifactbucket*/releases/*'],
        Condition: inThisAccount,
      },
      {
        Sid: 'ListArtifactBuckets',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: ['arn:${AWS::Partition}:s3:::sluice-dev-releaseartifactbucket*', 'arn:${AWS::Partition}:s3:::sluice-prod-releaseartifactbucket*'],
        Condition: inThisAccount,
      },
      {
        // The artifacts are encrypted with each stage's KMS key: upload (GenerateDataKey) and multipart
        // completion (Decrypt), only on keys aliased alias/sluice/<stage>/artifacts and only through S3.
        Sid: 'ArtifactKeys',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: arn('kms', 'key/*'),
        Condition: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': ['alias/sluice/dev/artifacts', 'alias/sluice/prod/artifacts'] },
          StringEquals: { 'kms:ViaService': 's3.${AWS::Region}.amazonaws.com' },
        },
      },
      { Sid: 'ReadStageStacks', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: stageStacks },
      {
        Sid: 'StageFlagsApplications',
        Effect: 'Allow',
        Action: [
          'appconfig:CreateHostedConfigurationVersion',
          'appconfig:GetApplication',
          'appconfig:GetConfigurationProfile',
          'appconfig:GetDeployment',
          'appconfig:GetDeploymentStrategy',
          'appconfig:GetEnvironment',
          'appconfig:GetHostedConfigurationVersion',
          'appconfig:ListDeployments',
          'appconfig:ListHostedConfigurationVersions',
          'appconfig:StartDeployment',
          'appconfig:StopDeployment',
        ],
        Resource: [arn('appconfig', 'application/*'), arn('appconfig', 'deploymentstrategy/*')],
        Condition: stageTag,
      },
      {
        // Hosted versions and deployments carry no tag; each of these calls is also authorized on
        // the (tagged) application, which the statement above requires to be a stage's.
        Sid: 'StageFlagsVersionsAndDeployments',
        Effect: 'Allow',
        Action: [
          'appconfig:CreateHostedConfigurationVersion',
          'appconfig:GetDeployment',
          'appconfig:GetHostedConfigurationVersion',
          'appconfig:StartDeployment',
          'appconfig:StopDeployment',
        ],
        Resource: [arn('appconfig', 'application/*/configurationprofile/*/hostedconfigurationversion/*'), arn('appconfig', 'application/*/environment/*/deployment/*')],
      },
    ]);
  });

  it('gives no role a service-wide or account-wide action, an IAM action or a managed policy such as AdministratorAccess', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((statement) => [statement.Action].flat());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*') || action.startsWith('iam:'))).toEqual([]);
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    }
  });

  it('trusts the environments and branch it is given, and names the bootstrap roles after the qualifier', () => {
    const custom = synth({ deployBranch: 'trunk', deployEnvironments: ['staging', 'production'], bootstrapQualifier: 'team42' }).template;
    expect(trustOf(custom, 'GithubOidcDeployRole').Statement[0].Condition.StringEquals[sub]).toEqual([
      'repo:octo-org/octo-repo:ref:refs/heads/trunk',
      'repo:octo-org/octo-repo:environment:staging',
      'repo:octo-org/octo-repo:environment:production',
    ]);
    expect(statementsOf(custom, 'GithubOidcDeployRole')[0].Resource).toEqual([
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-team42-deploy-role-${AWS::AccountId}-${AWS::Region}',
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-team42-file-publishing-role-${AWS::AccountId}-${AWS::Region}',
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-team42-lookup-role-${AWS::AccountId}-${AWS::Region}',
    ]);
    const mainOnly = synth({ deployEnvironments: [] }).template;
    expect(trustOf(mainOnly, 'GithubOidcDeployRole').Statement[0].Condition.StringEquals[sub]).toBe('repo:octo-org/octo-repo:ref:refs/heads/main');
  });

  it("imports the account's existing provider instead of creating a second one", () => {
    const existing = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    const { oidc, template: imported } = synth({ githubOidcProviderArn: existing });
    imported.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(oidc.provider.oidcProviderArn).toBe(existing);
    for (const prefix of ['GithubOidcPullRequestRole', 'GithubOidcDeployRole']) {
      expect(trustOf(imported, prefix).Statement[0].Principal).toEqual({ Federated: existing });
    }
    expect(webIdentityMayAssume(trustOf(imported, 'GithubOidcDeployRole'), existing, token('repo:octo-org/octo-repo:ref:refs/heads/main'))).toBe(true);
  });

  it('lists every problem with its settings in one error', () => {
    expect(errorMessage(() => synth({
      githubRepository: 'octo-org',
      githubOidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/accounts.google.com',
      stages: ['dev', 'Prod', 'dev'],
      deployBranch: 'release/*',
      deployEnvironments: ['prod:eu'],
      bootstrapQualifier: 'far-too-long',
      maxSessionDuration: Duration.hours(13),
    }))).toBe('Invalid GitHub OIDC settings:\n'
      + '  - githubRepository must be owner/name, as in https://github.com/owner/name (given "octo-org")\n'
      + '  - githubOidcProviderArn must be the ARN of the account\'s GitHub provider, arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com (given "arn:aws:iam::123456789012:oidc-provider/accounts.google.com")\n'
      + '  - stages must be stage names of 1 to 20 lower-case letters, digits or "-", starting with a letter (given "Prod")\n'
      + '  - stages must name each stage once (given "dev" more than once)\n'
      + '  - deployBranch must be one branch name, without wildcards or ":" (given "release/*")\n'
      + '  - deployEnvironments must be GitHub environment names, without wildcards or ":" (given "prod:eu")\n'
      + '  - bootstrapQualifier must be the qualifier given to cdk bootstrap: 1 to 10 letters, digits, "_" or "-" (given "far-too-long")\n'
      + '  - maxSessionDuration must be a whole number of hours between 1 and 12 (given 13 hours)');
    expect(() => synth({ stages: [] })).toThrow(/^Invalid GitHub OIDC settings:\n {2}- stages must name at least one stage \(given none\)$/);
    expect(() => synth({ githubRepository: 'octo-org/octo-repo/extra' })).toThrow(/githubRepository must be owner\/name/);
  });
});
