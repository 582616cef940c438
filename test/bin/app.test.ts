import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CdkRun, runCdk } from '../helpers/run-cdk.ts';

// These run the real `cdk synth` on bin/app.ts, offline, as a user or CI does.
describe('cdk synth (bin/app.ts)', () => {
  it('synthesizes the dev stage by default, with the AWS Solutions checks passing', async () => {
    const run = await runCdk(['synth', '--quiet']);
    expect(run.stderr).not.toMatch(/ERROR/);
    expect(run.exitCode).toBe(0);
    const template = JSON.parse(readFileSync(join(run.outdir, 'sluice-dev.template.json'), 'utf8'));
    expect(Object.keys(template.Outputs)).toContain('TargetGroupArn');
    expect(template.Resources).toBeDefined();
    // The CI stack needs a repository: without -c githubRepository it is not part of the app.
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).not.toContain('sluice-ci');
  });

  // One synth carries the CI-stack test and the account-and-region test: their flags are
  // independent (the CI stack only adds a stack; the environment only sets where both go), and a
  // full synth with its policy checks costs ~20 s of CPU.
  let ciStackInAccountRun: Promise<CdkRun> | undefined;
  const ciStackInAccount = () => ciStackInAccountRun ??= runCdk(
    ['synth', '--quiet', '-c', 'githubRepository=octo-org/octo-repo', '-c', 'amiId=ami-0123456789abcdef0'],
    { CDK_DEPLOY_ACCOUNT: '123456789012', CDK_DEPLOY_REGION: 'eu-west-1' },
  );

  it('adds the CI stack with -c githubRepository=owner/name, with the AWS Solutions checks passing', async () => {
    const run = await ciStackInAccount();
    expect(run.stderr).not.toMatch(/ERROR/);
    expect(run.exitCode).toBe(0);
    const template = JSON.parse(readFileSync(join(run.outdir, 'sluice-ci.template.json'), 'utf8'));
    expect(Object.keys(template.Outputs).sort()).toEqual(['DeployRoleArn', 'GithubOidcProviderArn', 'PullRequestRoleArn']);
    const trust = JSON.stringify(Object.values(template.Resources as Record<string, { Type: string; Properties: { AssumeRolePolicyDocument?: unknown } }>)
      .filter((resource) => resource.Type === 'AWS::IAM::Role').map((role) => role.Properties.AssumeRolePolicyDocument));
    expect(trust).toContain('"repo:octo-org/octo-repo:pull_request"');
    expect(trust).toContain('"repo:octo-org/octo-repo:ref:refs/heads/main"');
    // Every stage the app knows, so that one CI stack deploys and releases dev and prod.
    expect(JSON.stringify(template)).toContain('stack/sluice-prod/*');
    expect(readFileSync(join(run.outdir, 'sluice-dev.template.json'), 'utf8')).toContain('"sluice:stage"');
  });

  it('targets the account and region from the environment when given, still offline with the AMI pinned (or recorded in cdk.context.json)', async () => {
    const run = await ciStackInAccount();
    expect(run.exitCode).toBe(0);
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['sluice-dev'].environment).toBe('aws://123456789012/eu-west-1');
  });

  it('synthesizes prod with -c stage=prod', async () => {
    const run = await runCdk(['synth', '--quiet', '-c', 'stage=prod']);
    expect(run.exitCode).toBe(0);
    const template = JSON.parse(readFileSync(join(run.outdir, 'sluice-prod.template.json'), 'utf8'));
    const tables = Object.values(template.Resources as Record<string, { Type: string; DeletionPolicy?: string }>).filter((resource) => resource.Type === 'AWS::DynamoDB::Table');
    expect(tables.map((table) => table.DeletionPolicy)).toEqual(['Retain', 'Retain']);
  });

  it('with --no-lookups (CI), refuses to pick an AMI for an account and region that has none recorded, naming the key to record', async () => {
    const run = await runCdk(['synth', '--quiet', '--no-lookups'], { CDK_DEPLOY_ACCOUNT: '123456789012', CDK_DEPLOY_REGION: 'eu-west-1' });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain("Missing context keys: 'ssm:account=123456789012:parameterName=/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64:region=eu-west-1'");
  });

  // These four fail early or synthesize one small stack, mostly process start-up: run together, they
  // take about the time of the slowest (the Control Tower one), not the sum (~11 s instead of ~18 s).
  it.concurrent('fails on a finding of the Control Tower controls as on a cdk-nag one: exit 1, naming the control, the resource and how to acknowledge it', async ({ expect }) => {
    const run = await runCdk(['synth', '--quiet', '--app', 'node --import tsx test/helpers/policy-violating-app.ts']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('ERROR [CT.CLOUDWATCH.PR.2]: Require an Amazon CloudWatch log group to be retained for at least one year (cdk-validator-cfnguard)');
    expect(run.stderr).toContain('ERROR [CT.CLOUDWATCH.PR.3]');
    expect(run.stderr).toContain('policy-violating/PlainLogGroup');
    expect(run.stderr).toContain("Acknowledge with 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check'");
  });

  it.concurrent('fails on an unknown stage, listing the known ones, without a stack trace', async ({ expect }) => {
    const run = await runCdk(['synth', '--quiet', '-c', 'stage=nope']);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('Unknown stage "nope". Known stages: dev, prod. Choose one with -c stage=NAME.');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it.concurrent('fails on bad settings, listing every problem, without a stack trace', async ({ expect }) => {
    const run = await runCdk(['synth', '--quiet', '-c', 'deregistrationDelay=4000', '-c', 'maxReceiveCount=0']);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('Invalid configuration for stage "dev":\n'
      + '  - deregistrationDelay must be between 0 and 3600 seconds (given 4000)\n'
      + '  - maxReceiveCount must be a whole number between 1 and 1000 (given 0)');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it.concurrent('fails on a misspelt setting, suggesting the right one, instead of ignoring it', async ({ expect }) => {
    const run = await runCdk(['synth', '--quiet', '-c', 'minCapacty=3', '-c', '@aws-cdk/core:enablePartitionLiterals=true']);
    expect(run.exitCode).not.toBe(0);
    // The one problem: the feature flag and the context the CDK CLI adds (aws:cdk:*) are not settings.
    expect(run.stderr).toMatch(new RegExp('Invalid configuration for stage "dev":\n'
      + '  - unknown setting "minCapacty": did you mean "minCapacity"\\? \\(valid settings: stage, protectData, [^\n]*, databaseConnectionsThreshold, flagsRolloutDuration, flagsRolloutGrowthFactor, flagsRolloutBakeTime, webFirewall, webFirewallRateLimit, blockedRequestsThreshold, githubRepository, githubOidcProviderArn\\)\n'
      + '(?!  - )'));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
