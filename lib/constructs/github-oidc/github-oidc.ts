import { Aws, type Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../../runtime/metric-contract.ts';
import { artifactKeyAliasName, currentVersionParameterName, schemaVersionParameterName, stackName } from '../../runtime/stack-contract.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_DEFAULTS, GITHUB_OIDC_URL } from './github-oidc-defaults.ts';
import { STAGE_TAG_KEY } from './stage-tag.ts';
import { validateGithubOidcSettings } from './validate-github-oidc-settings.ts';

/** The tunable settings of the GitHub OIDC roles. */
export interface GithubOidcSettings {
  /**
   * The branch whose workflow runs may deploy and release: their tokens' `sub` is
   * `repo:<owner>/<name>:ref:refs/heads/<branch>`.
   * @default 'main'
   */
  readonly deployBranch?: string;
  /**
   * GitHub environments whose jobs may deploy and release. A job with `environment: prod` gets a token
   * whose `sub` is `repo:<owner>/<name>:environment:prod` in place of the ref, so such a job runs only
   * once the environment's protection rules (required reviewers, deployment branches) let it.
   * @default ['prod']
   */
  readonly deployEnvironments?: readonly string[];
  /**
   * The qualifier the account was bootstrapped with (`cdk bootstrap --qualifier`): it names the
   * bootstrap roles the CI roles assume.
   * @default 'hnb659fds' (the CDK's default)
   */
  readonly bootstrapQualifier?: string;
  /**
   * How long a CI session lasts. A release's own calls run in it; a deploy chains into the bootstrap
   * roles, whose sessions last at most 1 hour whatever this says.
   * @default 1 hour
   */
  readonly maxSessionDuration?: Duration;
}

export interface GithubOidcProps extends GithubOidcSettings {
  /**
   * The repository whose workflows the roles trust, `owner/name`, spelt as on GitHub: the token's
   * `sub` carries it that way and the trust compares it exactly.
   */
  readonly githubRepository: string;
  /**
   * The account's existing provider for token.actions.githubusercontent.com, imported instead of
   * created: an account can hold only one provider per URL.
   * @default - a provider is created
   */
  readonly githubOidcProviderArn?: string;
  /** The stages whose stacks the pull-request role reads and the deploy role deploys and releases. */
  readonly stages: readonly string[];
}

/** The token claims the trust policies compare: `token.actions.githubusercontent.com:aud` and `:sub`. */
const CLAIM_PREFIX = new URL(GITHUB_OIDC_URL).host;

/**
 * GitHub Actions' way into the account without long-lived keys: GitHub's OIDC provider (created or
 * imported) and two roles that only this repository's workflows can assume.
 *
 * - `pullRequestRole` (pull requests, `repo:<repository>:pull_request`): what `cdk diff` reads — it
 *   may assume the bootstrap lookup role and read the stages' templates, nothing else.
 * - `deployRole` (pushes to the deploy branch and jobs in the deploy environments): `cdk deploy`
 *   through the bootstrap deploy, file-publishing and lookup roles, the artifact upload, and exactly
 *   the calls `sluice release` and `sluice status` make, on the stages' resources.
 */
export class GithubOidc extends Construct {
  public readonly provider: iam.IOidcProvider;
  public readonly pullRequestRole: iam.Role;
  public readonly deployRole: iam.Role;

  private readonly stages: readonly string[];
  private readonly qualifier: string;

  constructor(scope: Construct, id: string, props: GithubOidcProps) {
    super(scope, id);
    throwIfInvalid('GitHub OIDC', validateGithubOidcSettings(props));
    this.stages = props.stages;
    this.qualifier = props.bootstrapQualifier ?? GITHUB_OIDC_DEFAULTS.bootstrapQualifier;

    // --- the provider ------------------------------------------------------------------------------
    // The native AWS::IAM::OIDCProvider: no custom-resource Lambda. Without thumbprints IAM verifies
    // GitHub's certificate itself.
    this.provider = props.githubOidcProviderArn === undefined
      ? new iam.OidcProviderNative(this, 'Provider', { url: GITHUB_OIDC_URL, clientIds: [GITHUB_OIDC_AUDIENCE] })
      : iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.githubOidcProviderArn);

    // --- the roles ---------------------------------------------------------------------------------
    const repository = props.githubRepository;
    const maxSessionDuration = props.maxSessionDuration ?? GITHUB_OIDC_DEFAULTS.maxSessionDuration;
    this.pullRequestRole = new iam.Role(this, 'PullRequestRole', {
      description: `sluice CI: cdk diff on pull requests of ${repository}`,
      assumedBy: this.trust([`repo:${repository}:pull_request`]),
      maxSessionDuration,
    });
    const branch = props.deployBranch ?? GITHUB_OIDC_DEFAULTS.deployBranch;
    const environments = props.deployEnvironments ?? GITHUB_OIDC_DEFAULTS.deployEnvironments;
    this.deployRole = new iam.Role(this, 'DeployRole', {
      description: `sluice CI: cdk deploy and sluice release from ${repository} (${branch} and environments ${environments.join(', ') || 'none'})`,
      assumedBy: this.trust([`repo:${repository}:ref:refs/heads/${branch}`, ...environments.map((environment) => `repo:${repository}:environment:${environment}`)]),
      maxSessionDuration,
    });

    this.grantDiff(this.pullRequestRole);
    this.grantDeploy(this.deployRole);
    this.grantRelease(this.deployRole);
    this.grantFlags(this.deployRole);
  }

  /** Tokens of exactly these subjects, issued for AWS (`aud`), and no others. */
  private trust(subjects: readonly string[]): iam.IPrincipal {
    return new iam.OpenIdConnectPrincipal(this.provider, {
      StringEquals: {
        [`${CLAIM_PREFIX}:aud`]: GITHUB_OIDC_AUDIENCE,
        [`${CLAIM_PREFIX}:sub`]: subjects.length === 1 ? subjects[0] : [...subjects],
      },
    });
  }

  // --- cdk diff and cdk deploy -----------------------------------------------------------------------

  /**
   * What `cdk diff` reads: sts:AssumeRole on the bootstrap lookup role (the CLI reads the deployed
   * template through it), and cloudformation:GetTemplate and cloudformation:DescribeStacks on the
   * stages' stacks for when it uses these credentials directly. A change-set diff needs the deploy
   * role, which this role cannot assume: run `cdk diff --method template`.
   */
  private grantDiff(role: iam.Role): void {
    role.addToPolicy(new iam.PolicyStatement({ sid: 'AssumeCdkLookupRole', actions: ['sts:AssumeRole'], resources: [this.bootstrapRoleArn('lookup')] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadStageStacks', actions: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'], resources: this.stageStackArns() }));
    this.acknowledgeStageStacks(role);
  }

  /**
   * What `cdk deploy` needs: sts:AssumeRole on the bootstrap deploy, file-publishing and lookup roles.
   * CloudFormation acts with the bootstrap execution role, so this role itself changes no resource.
   * The app has no container image assets, so the image-publishing role is left out; add it with
   * the first one.
   */
  private grantDeploy(role: iam.Role): void {
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'AssumeCdkBootstrapRoles',
      actions: ['sts:AssumeRole'],
      resources: [this.bootstrapRoleArn('deploy'), this.bootstrapRoleArn('file-publishing'), this.bootstrapRoleArn('lookup')],
    }));
  }

  // --- sluice release and sluice status --------------------------------------------------------------

  /**
   * Exactly the calls `sluice release` and `sluice status` make (lib/runtime/release/aws/) and the
   * artifact upload, each on the stages' resources where the API allows it:
   *
   * - CloudFormation DescribeStacks (stack outputs) on `sluice-<stage>`;
   * - S3 GetObject (HeadObject: artifact and checksum present), ListBucket (so that a missing key is a
   *   404, not a 403) and PutObject (the upload) on the artifact buckets' `releases/`, with KMS
 *   GenerateDataKey and Decrypt through S3 on the stages' artifact keys;
   * - ELBv2 DescribeTargetHealth, DescribeTargetGroups, DescribeTargetGroupAttributes, and
   *   RegisterTargets, DeregisterTargets on target groups tagged with a stage;
   * - Auto Scaling DescribeAutoScalingInstances, DescribeInstanceRefreshes (a release refuses during
   *   a refresh), and SuspendProcesses, ResumeProcesses on groups tagged with a stage;
   * - SSM SendCommand of `AWS-RunShellScript` to instances tagged with a stage, GetCommandInvocation,
   *   CancelCommand, and GetParameter, PutParameter on `/sluice/<stage>/current-version`;
   * - SSM GetParameter on `/sluice/<stage>/schema-version` (a release refuses a version whose
   *   migrations the database lacks);
   * - CloudWatch DescribeAlarms (the release gate and any `--alarm`), PutMetricData in the namespace
   *   `sluice` only (the release marker) and GetMetricData (the before/after report);
   * - DynamoDB GetItem, PutItem, UpdateItem, DeleteItem, Query on the release tables.
   */
  private grantRelease(role: iam.Role): void {
    const stageTagged = { StringEquals: { [`aws:ResourceTag/${STAGE_TAG_KEY}`]: [...this.stages] } };
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'CallsWithoutResourceLevelPermissions',
      actions: [
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeInstanceRefreshes',
        'cloudwatch:GetMetricData',
        'elasticloadbalancing:DescribeTargetGroupAttributes',
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'ssm:CancelCommand',
        'ssm:GetCommandInvocation',
      ],
      resources: ['*'],
    }));
    // The release marker: PutMetricData has no resource type either; the namespace condition keeps
    // the role from writing any metric but sluice's own.
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'PublishReleaseMarker',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
    }));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ELBv2 DescribeTargetHealth/DescribeTargetGroups/DescribeTargetGroupAttributes, Auto Scaling DescribeAutoScalingInstances/DescribeInstanceRefreshes, SSM GetCommandInvocation/CancelCommand and CloudWatch GetMetricData/PutMetricData have no resource types in the Service Authorization Reference, so IAM accepts only "*" for them; they read state, cancel a command, or (PutMetricData) write metrics only in the sluice namespace (cloudwatch:namespace condition), and change no resource.',
    });

    // CloudFormation generates the target group's and the group's names (a target group's is cut to
    // 32 characters): the stage tag scopes them instead.
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'MoveTargetsOfStageTargetGroups',
      actions: ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets'],
      resources: [this.arn('elasticloadbalancing', 'targetgroup/*/*').value],
      conditions: stageTagged,
    }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'HoldStageGroups',
      actions: ['autoscaling:ResumeProcesses', 'autoscaling:SuspendProcesses'],
      resources: [this.arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*').value],
      conditions: stageTagged,
    }));
    // SendCommand is authorized on the document and on each instance: the document without a
    // condition (it carries no stage tag), the instances only with their stage's tag.
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'RunShellScriptDocument',
      actions: ['ssm:SendCommand'],
      resources: [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}::document/AWS-RunShellScript`],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'RunCommandsOnStageInstances',
      actions: ['ssm:SendCommand'],
      resources: [this.arn('ec2', 'instance/*').value],
      conditions: { StringEquals: { [`ssm:resourceTag/${STAGE_TAG_KEY}`]: [...this.stages] } },
    }));
    this.acknowledgeWildcards(role, [
      [this.arn('elasticloadbalancing', 'targetgroup/*/*').finding, 'Target group names are generated by CloudFormation, so the statement allows RegisterTargets/DeregisterTargets only on target groups whose sluice:stage tag names one of the CI stages (aws:ResourceTag condition).'],
      [this.arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*').finding, 'Auto Scaling group names are generated by CloudFormation, so the statement allows SuspendProcesses/ResumeProcesses only on groups whose sluice:stage tag names one of the CI stages (aws:ResourceTag condition).'],
      [this.arn('ec2', 'instance/*').finding, 'A release installs on whichever instances the group launched, so SendCommand is allowed on instances whose sluice:stage tag (passed on by the group at launch) names one of the CI stages (ssm:resourceTag condition), with the AWS-RunShellScript document only.'],
    ]);

    role.addToPolicy(new iam.PolicyStatement({
      sid: 'CurrentVersionParameters',
      actions: ['ssm:GetParameter', 'ssm:PutParameter'],
      resources: this.stages.map((stage) => this.arn('ssm', `parameter${currentVersionParameterName(stage)}`).value),
    }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadSchemaVersionParameters',
      actions: ['ssm:GetParameter'],
      resources: this.stages.map((stage) => this.arn('ssm', `parameter${schemaVersionParameterName(stage)}`).value),
    }));

    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadAlarms', actions: ['cloudwatch:DescribeAlarms'], resources: [this.arn('cloudwatch', 'alarm:*').value] }));
    this.acknowledgeWildcards(role, [[
      this.arn('cloudwatch', 'alarm:*').finding,
      'sluice release --alarm NAME also watches any alarm the team names, besides the stage\'s release gate; DescribeAlarms only reads alarm states in this account and region.',
    ]]);

    // DynamoDB names a table <stack>-<logical ID>-<suffix>; the release table's logical ID starts
    // with ReleaseReleaseTable (construct Release, table ReleaseTable), pinned by the stage stack's tests.
    const releaseTables = this.stages.map((stage) => this.arn('dynamodb', `table/${stackName(stage)}-ReleaseReleaseTable*`));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ReleaseTables',
      actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      resources: releaseTables.map((table) => table.value),
    }));
    this.acknowledgeWildcards(role, releaseTables.map((table) => [table.finding, 'CloudFormation generates the release table\'s name: <stack>-ReleaseReleaseTable<hash>-<suffix>; the pattern matches that one table of the stage (the lock, the release journal and history), not the checkpoint table.']));

    // Bucket names are global: the account condition keeps a same-named bucket elsewhere out.
    const buckets = this.stages.map((stage) => artifactBucketPattern(stage));
    const inThisAccount = { StringEquals: { 'aws:ResourceAccount': Aws.ACCOUNT_ID } };
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ReleaseArtifacts',
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: buckets.map((bucket) => `arn:${Aws.PARTITION}:s3:::${bucket}/releases/*`),
      conditions: inThisAccount,
    }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ListArtifactBuckets',
      actions: ['s3:ListBucket'],
      resources: buckets.map((bucket) => `arn:${Aws.PARTITION}:s3:::${bucket}`),
      conditions: inThisAccount,
    }));
    this.acknowledgeWildcards(role, buckets.flatMap((bucket) => [
      [`Resource::arn:<AWS::Partition>:s3:::${bucket}/releases/*`, 'CloudFormation generates the artifact bucket\'s name (<stack>-releaseartifactbucket<hash>-<suffix>); CI uploads and checks any release version, so it may read and write objects under releases/ of that bucket in this account, and nothing else.'],
      [`Resource::arn:<AWS::Partition>:s3:::${bucket}`, 'CloudFormation generates the artifact bucket\'s name; ListBucket on it makes S3 answer a missing artifact with 404 instead of 403, which is how sluice release tells "not uploaded" from "not allowed".'],
    ]));

    // The artifacts are encrypted with each stage's KMS key, whose generated ID this stack cannot
    // know: the statement names the keys by their alias, and only for calls S3 makes on the role's
    // behalf. PutObject needs kms:GenerateDataKey; kms:Decrypt completes a multipart upload (the CLI
    // splits files above 8 MiB) and reads an object. kms:Encrypt is not needed: S3 encrypts with the
    // data key it generated.
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'ArtifactKeys',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [this.arn('kms', 'key/*').value],
      conditions: {
        'ForAnyValue:StringEquals': { 'kms:ResourceAliases': this.stages.map((stage) => artifactKeyAliasName(stage)) },
        StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` },
      },
    }));
    this.acknowledgeWildcards(role, [[
      this.arn('kms', 'key/*').finding,
      'KMS generates the artifact keys\' IDs; the statement allows only keys whose alias is a CI stage\'s artifact key (kms:ResourceAliases), and only through S3 (kms:ViaService).',
    ]]);

    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadStageStacks', actions: ['cloudformation:DescribeStacks'], resources: this.stageStackArns() }));
    this.acknowledgeStageStacks(role);
  }

  // --- sluice flags list, set and ramp --------------------------------------------------------------

  /**
   * What `sluice flags list|set|ramp` calls on the stages' AppConfig resources (their IDs are
   * generated, and this stack is deployed before any stage, so the stage tag scopes them):
   *
   * - on the stage's application, environment, configuration profile and deployment strategies
   *   (tagged `sluice:stage`): appconfig:GetApplication, GetEnvironment, GetConfigurationProfile,
   *   GetDeploymentStrategy, ListDeployments, ListHostedConfigurationVersions, and the application
   *   side of CreateHostedConfigurationVersion, GetHostedConfigurationVersion, StartDeployment,
   *   StopDeployment, GetDeployment;
   * - on hosted versions and deployments, which carry no tag: the same five calls. Each of them is
   *   also authorized on its application (Service Authorization Reference), which must carry a
   *   stage's tag, so they reach only the stages' applications.
   */
  private grantFlags(role: iam.Role): void {
    const application = this.arn('appconfig', 'application/*');
    const strategy = this.arn('appconfig', 'deploymentstrategy/*');
    const hostedVersion = this.arn('appconfig', 'application/*/configurationprofile/*/hostedconfigurationversion/*');
    const deployment = this.arn('appconfig', 'application/*/environment/*/deployment/*');
    const onUntagged = [
      'appconfig:CreateHostedConfigurationVersion',
      'appconfig:GetDeployment',
      'appconfig:GetHostedConfigurationVersion',
      'appconfig:StartDeployment',
      'appconfig:StopDeployment',
    ];
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'StageFlagsApplications',
      actions: [
        ...onUntagged,
        'appconfig:GetApplication',
        'appconfig:GetConfigurationProfile',
        'appconfig:GetDeploymentStrategy',
        'appconfig:GetEnvironment',
        'appconfig:ListDeployments',
        'appconfig:ListHostedConfigurationVersions',
      ].sort(),
      resources: [application.value, strategy.value],
      conditions: { StringEquals: { [`aws:ResourceTag/${STAGE_TAG_KEY}`]: [...this.stages] } },
    }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'StageFlagsVersionsAndDeployments',
      actions: onUntagged,
      resources: [hostedVersion.value, deployment.value],
    }));
    this.acknowledgeWildcards(role, [
      [application.finding, 'AppConfig generates application IDs and the CI stack is deployed before any stage, so the flags calls are allowed on applications (and their environments and configuration profiles) whose sluice:stage tag names one of the CI stages (aws:ResourceTag condition).'],
      [strategy.finding, 'AppConfig generates deployment strategy IDs, so StartDeployment and GetDeploymentStrategy are allowed on strategies whose sluice:stage tag names one of the CI stages (aws:ResourceTag condition); AppConfig\'s predefined strategies carry no such tag.'],
      [hostedVersion.finding, 'Hosted configuration versions carry no tags; each call on one (CreateHostedConfigurationVersion, GetHostedConfigurationVersion) is also authorized on its application, which must carry a CI stage\'s sluice:stage tag, so only the stages\' flag versions are reachable.'],
      [deployment.finding, 'A deployment is created by StartDeployment itself and carries no stage tag; every call on one (StartDeployment, GetDeployment, StopDeployment) is also authorized on its application and environment, which must carry a CI stage\'s sluice:stage tag.'],
    ]);
  }

  // --- names -----------------------------------------------------------------------------------------

  /** A bootstrap role of this account and region: `cdk-<qualifier>-<kind>-role-<account>-<region>`. */
  private bootstrapRoleArn(kind: 'deploy' | 'file-publishing' | 'lookup'): string {
    return `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/cdk-${this.qualifier}-${kind}-role-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
  }

  private stageStackArns(): string[] {
    return this.stages.map((stage) => this.arn('cloudformation', `stack/${stackName(stage)}/*`).value);
  }

  private acknowledgeStageStacks(role: iam.Role): void {
    this.acknowledgeWildcards(role, this.stages.map((stage) => [
      this.arn('cloudformation', `stack/${stackName(stage)}/*`).finding,
      `A stack's ARN ends in an ID CloudFormation generates when it creates the stack; the pattern names exactly the stack ${stackName(stage)}.`,
    ]));
  }

  /**
   * An ARN in this account and region, as the policy holds it (`value`) and as cdk-nag names it in
   * an AwsSolutions-IAM5 finding (`finding`).
   */
  private arn(service: string, resource: string): { value: string; finding: string } {
    return {
      value: `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`,
      finding: `Resource::arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`,
    };
  }

  private acknowledgeWildcards(role: iam.Role, findings: readonly (readonly [string, string])[]): void {
    for (const [finding, reason] of findings) Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/**
 * The artifact bucket's generated name up to its hash: `<stack>-releaseartifactbucket`. A bucket
 * name has at most 63 characters; when stack name and logical ID do not fit, CloudFormation keeps 25
 * characters of the stack name and cuts the logical ID (still longer than "releaseartifactbucket").
 */
function artifactBucketPattern(stage: string): string {
  return `${stackName(stage).slice(0, 25)}-releaseartifactbucket*`;
}
