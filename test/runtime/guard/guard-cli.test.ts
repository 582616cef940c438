// `sluice guard` on real cloud assemblies: each case synthesizes a base and a head variant with
// aws-cdk-lib into temporary directories, as `cdk synth` would, and reads the verdict the CLI gives.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveStageConfig } from '../../../lib/config/resolve-stage-config.ts';
import { runGuardCli } from '../../../lib/runtime/guard/cli/run-guard-cli.ts';
import { SluiceStack } from '../../../lib/stacks/sluice-stack.ts';
import { testApp } from '../../helpers/synth.ts';
import { synthGuardedApp, type Variant } from './guarded-app.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-guard-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const synthVariant = (variant?: Variant) => synthGuardedApp(scratch, variant);

interface GuardRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function guard(...argv: string[]): Promise<GuardRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exitCode = await runGuardCli(argv, { cwd: scratch, stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
  return { exitCode, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

async function guardJson(base: string, head: string, ...flags: string[]) {
  const run = await guard('--base', base, '--head', head, '--json', ...flags);
  return { ...run, report: JSON.parse(run.stdout) };
}

const base = synthVariant();

describe('sluice guard', () => {
  it('passes a change that only updates stateful resources in place (a tag): exit 0', async () => {
    const head = synthVariant({ tag: 'payments' });
    const { exitCode, report, stderr } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({ verdict: 'clean', exitCode: 0, destructive: [], orphaned: [] });
    expect(report.stacks).toEqual([{ stackName: 'guarded', status: 'compared', statefulResources: 4 }]);
    expect(stderr).toBe('');
  });

  it('refuses a table whose key changes, naming the table and the property that forces its replacement: exit 6', async () => {
    const head = synthVariant({ tableKey: 'customerId' });
    const { exitCode, report } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(6);
    expect(report.verdict).toBe('destructive');
    expect(report.destructive).toEqual([{
      stackName: 'guarded',
      logicalId: base.ids.table,
      resourceType: 'AWS::DynamoDB::Table',
      constructPath: 'Guarded/Orders/Resource',
      change: 'replaced',
      reasons: ['KeySchema: [{"AttributeName":"orderId","KeyType":"HASH"}] → [{"AttributeName":"customerId","KeyType":"HASH"}] forces replacement'],
    }]);
  });

  it('refuses a queue that turns FIFO (a property that forces replacement): exit 6, and says why on stderr', async () => {
    const head = synthVariant({ fifo: true });
    const run = await guard('--base', base.dir, '--head', head.dir);
    expect(run.exitCode).toBe(6);
    expect(run.stdout).toContain(`DESTRUCTIVE: 1 stateful resource would be replaced or removed:\n  guarded ${base.ids.queue} (AWS::SQS::Queue, Guarded/Work/Resource): replaced\n    - FifoQueue: (not set) → true forces replacement`);
    expect(run.stderr).toMatch(/^sluice guard: refusing: deploying the head destroys the data of 1 stateful resource\(s\)\. .*--allow-destructive \(in a pull request: the label allow-destructive-change\)\.$/);
  });

  it('refuses a removed bucket that CloudFormation would delete (DeletionPolicy Delete): exit 6', async () => {
    const head = synthVariant({ withUploads: false });
    const { exitCode, report } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(6);
    expect(report.destructive).toEqual([{
      stackName: 'guarded', logicalId: base.ids.uploads, resourceType: 'AWS::S3::Bucket', constructPath: 'Guarded/Uploads/Resource',
      change: 'removed', reasons: ['removed from the template, DeletionPolicy Delete'],
    }]);
    expect(report.orphaned).toEqual([]);
  });

  it('passes a removed bucket that DeletionPolicy Retain keeps, and reports it as orphaned: exit 0', async () => {
    const head = synthVariant({ withArchive: false });
    const { exitCode, report } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(0);
    expect(report.verdict).toBe('clean');
    expect(report.orphaned).toEqual([{
      stackName: 'guarded', logicalId: base.ids.archive, resourceType: 'AWS::S3::Bucket', constructPath: 'Guarded/Archive/Resource',
      change: 'orphaned', reasons: ['removed from the template; DeletionPolicy Retain keeps it in the account, no longer managed by the stack'],
    }]);
  });

  it('refuses a table moved in the construct tree (a new logical ID), pointing at the new one', async () => {
    const head = synthVariant({ tableUnder: 'Data' });
    const { exitCode, report } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(6);
    expect(head.ids.table).not.toBe(base.ids.table);
    expect(report.destructive).toEqual([expect.objectContaining({
      logicalId: base.ids.table,
      change: 'removed',
      reasons: [
        'removed from the template, DeletionPolicy Delete',
        `the head adds ${head.ids.table} of the same type: if it is this resource moved in the construct tree, keep the old logical ID`,
      ],
    })]);
  });

  it('counts a stack missing from the head as removing its stateful resources (kept ones orphaned)', async () => {
    const head = synthVariant({ stackName: 'guarded-renamed' });
    const { exitCode, report } = await guardJson(base.dir, head.dir);
    expect(exitCode).toBe(6);
    expect(report.stacks).toEqual([
      { stackName: 'guarded', status: 'removed', statefulResources: 4 },
      { stackName: 'guarded-renamed', status: 'added', statefulResources: 4 },
    ]);
    const removedWithStack = 'removed with its stack (guarded is not in the head assembly), DeletionPolicy Delete';
    expect(report.destructive.map((change: { logicalId: string; change: string; reasons: string[] }) => [change.logicalId, change.change, change.reasons]).sort()).toEqual([
      [base.ids.queue, 'removed', [removedWithStack]],
      [base.ids.table, 'removed', [removedWithStack]],
      [base.ids.uploads, 'removed', [removedWithStack]],
    ].sort());
    expect(report.orphaned.map((change: { logicalId: string }) => change.logicalId)).toEqual([base.ids.archive]);
  });

  it('with --allow-destructive reports the same changes and exits 0 (the override)', async () => {
    const head = synthVariant({ fifo: true, withUploads: false });
    const { exitCode, report, stderr } = await guardJson(base.dir, head.dir, '--allow-destructive');
    expect(exitCode).toBe(0);
    expect(report.verdict).toBe('allowed');
    expect(report.destructive.map((change: { logicalId: string; change: string }) => [change.logicalId, change.change]).sort()).toEqual([[base.ids.queue, 'replaced'], [base.ids.uploads, 'removed']].sort());
    expect(stderr).toBe('');
  });

  it('writes the Markdown report for the pull-request comment: the verdict, a row per resource with why, the override label', async () => {
    const head = synthVariant({ fifo: true });
    const run = await guard('--base', base.dir, '--head', head.dir, '--markdown', 'reports/guard.md');
    expect(run.exitCode).toBe(6);
    const markdown = readFileSync(join(scratch, 'reports/guard.md'), 'utf8');
    expect(markdown).toMatch(/^#### 🛑 Destructive-change guard: stateful resources would be replaced or removed\n/);
    expect(markdown).toContain('Stacks: `guarded` (4 stateful resources).');
    expect(markdown).toContain(`| \`guarded\` | \`${base.ids.queue}\` | \`AWS::SQS::Queue\` | \`Guarded/Work/Resource\` | replaced | FifoQueue: (not set) → true forces replacement |`);
    expect(markdown).toContain('add the pull-request label `allow-destructive-change`');

    const clean = await guard('--base', base.dir, '--head', base.dir, '--markdown', 'reports/clean.md');
    expect(clean.exitCode).toBe(0);
    expect(readFileSync(join(scratch, 'reports/clean.md'), 'utf8')).toMatch(/^#### ✅ Destructive-change guard: no stateful resource replaced or removed\n/);
  });
});

describe('sluice guard on the sluice stack', () => {
  /** The stage stack as bin/app.ts builds it (cdk-nag aside), changed by `change` before synth. */
  function synthStack(stage: string, change: (stack: SluiceStack) => void = () => {}, protectData?: boolean): string {
    const app = testApp();
    const config = resolveStageConfig(stage);
    const stack = new SluiceStack(app, `sluice-${stage}`, { config: { ...config, protectData: protectData ?? config.protectData } });
    change(stack);
    return app.synth().directory;
  }
  const dev = synthStack('dev');

  it('passes turning protectData on in dev (deletion protection and Retain are in-place updates)', async () => {
    const { exitCode, report } = await guardJson(dev, synthStack('dev', undefined, true));
    expect(exitCode).toBe(0);
    expect(report.destructive).toEqual([]);
    expect(report.stacks).toEqual([{ stackName: 'sluice-dev', status: 'compared', statefulResources: 14 }]);
  });

  it('refuses renaming the work queue (a replacement), found by its construct path from the assembly metadata', async () => {
    const head = synthStack('dev', (stack) => {
      (stack.node.findChild('WorkQueue').node.findChild('Queue').node.defaultChild as CfnQueue).addPropertyOverride('QueueName', 'sluice-dev-work');
    });
    const { exitCode, report } = await guardJson(dev, head);
    expect(exitCode).toBe(6);
    expect(report.destructive).toEqual([expect.objectContaining({
      stackName: 'sluice-dev', resourceType: 'AWS::SQS::Queue', constructPath: 'sluice-dev/WorkQueue/Queue/Resource', change: 'replaced',
      reasons: ['QueueName: "sluice-dev-WorkQueue-A6E62E34" → "sluice-dev-work" forces replacement'],
    })]);
  });

  it('summarizes cdk-nag for the head: the stack\'s eight acknowledgements, each with its construct', async () => {
    const { report } = await guardJson(dev, dev);
    expect(report.nag.unacknowledged).toEqual([]);
    expect(report.nag.acknowledged.map((finding: { rule: string; constructPath: string }) => `${finding.rule.replace(/\[.*$/, '')} ${finding.constructPath}`)).toEqual([
      'AwsSolutions-AS3 sluice-dev/AppTier/Group',
      'AwsSolutions-EC23 sluice-dev/AppTier/LoadBalancerSecurityGroup',
      // cdk-nag's EC26 cannot read a group with a mixed instances policy.
      'AwsSolutions-EC26 sluice-dev/AppTier/Group',
      'AwsSolutions-IAM4 sluice-dev/AppTier/InstanceRole',
      'AwsSolutions-IAM5 sluice-dev/AppTier/InstanceRole',
      // Two IAM5s: reading any release under releases/, and DescribeTargetHealth (no resource-level permissions).
      'AwsSolutions-IAM5 sluice-dev/AppTier/InstanceRole',
      'AwsSolutions-S1 sluice-dev/AccessLogs/Bucket',
      'AwsSolutions-SQS3 sluice-dev/EventStream/FailureQueue',
    ]);
  });
});

describe('sluice guard\'s cdk-nag summary', () => {
  it('counts the findings a failed synth left in validation-report.json, and the acknowledged ones', async () => {
    const dir = join(scratch, 'nag-findings');
    const app = new App({ outdir: dir });
    const stack = new Stack(app, 'Nagged');
    const bucket = new Bucket(stack, 'Plain', { encryption: BucketEncryption.S3_MANAGED });
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'a test bucket needs no access logs' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // cdk-nag fails synth on the unacknowledged finding (S10: no TLS-only policy), after writing the assembly.
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);

    const { exitCode, stdout } = await guard('--base', dir, '--head', dir);
    expect(exitCode).toBe(0);
    expect(stdout).toContain('cdk-nag (head): 1 unacknowledged finding, 1 acknowledged\n  AwsSolutions-S10 Nagged/Plain/Resource: The S3 Bucket or bucket policy does not require requests to use SSL.');
  });
});

describe('sluice guard with bad input: exit 3, one message saying what to pass', () => {
  const noManifest = join(scratch, 'not-an-assembly');
  mkdirSync(noManifest, { recursive: true });
  const missingTemplate = join(scratch, 'missing-template');
  mkdirSync(missingTemplate, { recursive: true });
  writeFileSync(join(missingTemplate, 'manifest.json'), JSON.stringify({ version: '55.0.0', artifacts: { app: { type: 'aws:cloudformation:stack', properties: { templateFile: 'app.template.json' } } } }));
  const brokenManifest = join(scratch, 'broken-manifest');
  mkdirSync(brokenManifest, { recursive: true });
  writeFileSync(join(brokenManifest, 'manifest.json'), '{"version":');

  it.for([
    ['no --base', ['--head', 'x'], 'sluice guard: --base is required: the cdk.out directory to compare against (e.g. synthesized from the base branch)'],
    ['a --base that does not exist', ['--base', 'nowhere', '--head', base.dir], 'sluice guard: --base nowhere: no such directory; synthesize first (npx cdk synth --output nowhere)'],
    ['a head that does not exist (default cdk.out)', ['--base', base.dir], 'sluice guard: --head cdk.out: no such directory; synthesize first (npx cdk synth --output cdk.out)'],
    ['a directory without manifest.json', ['--base', base.dir, '--head', noManifest], `sluice guard: --head ${noManifest}: not a cloud assembly (no manifest.json); pass the directory cdk synth wrote (default cdk.out)`],
    ['a manifest naming a missing template', ['--base', missingTemplate, '--head', base.dir], `sluice guard: --base ${missingTemplate}: manifest.json names app.template.json for stack app, but there is no such file`],
    ['a positional argument', ['--base', base.dir, 'extra'], 'sluice guard: guard takes no arguments, only flags (given "extra")'],
  ] as const)('%s', async ([, argv, message]) => {
    const run = await guard(...argv);
    expect(run).toEqual({ exitCode: 3, stdout: '', stderr: message });
  });

  it('an unreadable manifest says which file to synthesize again', async () => {
    const run = await guard('--base', brokenManifest, '--head', base.dir);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`^sluice guard: --base: ${join(brokenManifest, 'manifest.json')} is not valid JSON \\(.+\\); synthesize again$`));
  });

  it('an unknown flag is refused with the usage', async () => {
    const run = await guard('--base', base.dir, '--allow-destroy');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/^sluice guard: Unknown option '--allow-destroy'\n\nUsage:\n {2}sluice guard --base <cdk.out dir>/);
  });

  it('with --json, bad input is a JSON line too', async () => {
    const run = await guard('--base', 'nowhere', '--head', base.dir, '--json');
    expect(run.exitCode).toBe(3);
    expect(JSON.parse(run.stdout)).toEqual({ verdict: 'bad-input', exitCode: 3, message: '--base nowhere: no such directory; synthesize first (npx cdk synth --output nowhere)' });
  });
});
