// The GitHub Actions workflows, checked without GitHub: each parses, passes GitHub's workflow schema
// (@action-validator/core), has the jobs and steps the README promises, and every command a `run:`
// step calls exists in this repository. The steps that hold logic (the guard's override, the report,
// the comment) are run here for real, with a stand-in for npx and for GitHub's API.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { projectRoot } from '../helpers/run-cdk.ts';

interface Step {
  readonly id?: string;
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly if?: string;
  readonly with?: Record<string, string>;
  readonly env?: Record<string, string>;
}

interface Job {
  readonly name?: string;
  readonly uses?: string;
  readonly needs?: string | string[];
  readonly environment?: string;
  readonly concurrency?: { group: string; 'cancel-in-progress': boolean };
  readonly permissions?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly steps?: Step[];
}

interface Workflow {
  readonly on: Record<string, unknown>;
  readonly jobs: Record<string, Job>;
}

const workflowDir = join(projectRoot, '.github/workflows');
const workflowFiles = readdirSync(workflowDir).filter((file) => /\.ya?ml$/.test(file)).sort();
const source = (file: string) => readFileSync(join(workflowDir, file), 'utf8');
const load = (file: string): Workflow => parseDocument(source(file)).toJS() as Workflow;
const packageJson = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

const stepIds = (job: Job) => (job.steps ?? []).map((step) => step.id ?? step.uses?.replace(/@.*$/, ''));
const step = (job: Job, id: string): Step => {
  const found = job.steps?.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no step with id ${id}`);
  return found;
};

const pullRequest = load('pull-request.yml');
const main = load('main.yml');
const test = load('test.yml');
const check = pullRequest.jobs.check!;

describe('the workflow files', () => {
  it('are the pull-request, main and shared test workflows (ci.yml is replaced)', () => {
    expect(workflowFiles).toEqual(['main.yml', 'pull-request.yml', 'test.yml']);
  });

  it.each(workflowFiles)('%s parses as YAML without errors or warnings', (file) => {
    const document = parseDocument(source(file));
    expect(document.errors).toEqual([]);
    expect(document.warnings).toEqual([]);
  });

  it.each(workflowFiles)('%s passes GitHub\'s workflow schema', (file) => {
    expect(validateWorkflow(source(file)).errors).toEqual([]);
  });

  it('the schema check does reject a broken workflow (a step with both uses and run, a job without runs-on)', () => {
    const broken = 'on: push\njobs:\n  build:\n    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n';
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it.each(workflowFiles)('%s pins every action to a full commit SHA with its version in a comment', (file) => {
    const uses = [...source(file).matchAll(/^\s*(?:- )?uses: (\S+)(.*)$/gm)].map(([, action, rest]) => [action!, rest!.trim()] as const);
    const unpinned = uses.filter(([action, comment]) => !action.startsWith('./') && !(/@[0-9a-f]{40}$/.test(action) && /^# v\d+(\.\d+)*$/.test(comment)));
    expect(uses.length).toBeGreaterThan(0);
    expect(unpinned).toEqual([]);
  });

  it.each(workflowFiles)('%s passes no expression into a run script (values go through env, so a branch name cannot inject shell)', (file) => {
    const runs = Object.values(load(file).jobs).flatMap((job) => job.steps ?? []).map((entry) => entry.run ?? '');
    expect(runs.filter((run) => run.includes('${{'))).toEqual([]);
  });
});

describe('every command a run step calls exists', () => {
  const runs = workflowFiles.flatMap((file) => Object.entries(load(file).jobs).flatMap(([jobId, job]) =>
    (job.steps ?? []).filter((entry) => entry.run).map((entry) => ({ where: `${file} ${jobId} ${entry.id ?? entry.name}`, script: entry.run!.replace(/\\\n/g, ' ') }))));
  const commands = (pattern: RegExp) => runs.flatMap(({ where, script }) => [...script.matchAll(pattern)].map((match) => ({ where, words: match.slice(1) })));
  let cdkCommands: string[] = [];

  beforeAll(async () => {
    const help = await run(join(projectRoot, 'node_modules/.bin/cdk'), ['--help'], { cwd: projectRoot, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
    cdkCommands = [...help.stdout.matchAll(/^ {2}cdk ([a-z-]+)/gm)].map(([, command]) => command!);
  });

  it('npm: only ci, test and run <script>, each script in package.json', () => {
    const npm = commands(/\bnpm (ci|test|run ([\w:-]+)|[\w-]+)/g);
    expect(npm.length).toBeGreaterThan(5);
    const wrong = npm.filter(({ words: [command, script] }) => !(command === 'ci' || (command === 'test' && packageJson.scripts.test) || (script && packageJson.scripts[script])));
    expect(wrong).toEqual([]);
  });

  it('npx: only this project\'s own bin (sluice) and installed packages (cdk)', () => {
    const npx = commands(/\bnpx ([\w@/.-]+)/g);
    const wrong = npx.filter(({ words: [bin] }) => !(bin! in packageJson.bin) && !existsSync(join(projectRoot, 'node_modules/.bin', bin!)));
    expect(npx.map(({ words: [bin] }) => bin).sort()).toEqual(expect.arrayContaining(['cdk', 'sluice']));
    expect(wrong).toEqual([]);
  });

  it('npx cdk <command>: a command of the pinned CDK CLI', () => {
    expect(cdkCommands).toEqual(expect.arrayContaining(['synth', 'diff', 'deploy']));
    const used = commands(/\bnpx cdk ([a-z-]+)/g);
    expect(used.map(({ words: [command] }) => command).sort()).toEqual(expect.arrayContaining(['deploy', 'diff', 'synth']));
    expect(used.filter(({ words: [command] }) => !cdkCommands.includes(command!))).toEqual([]);
  });

  it('npx sluice <command>: a command whose own usage the CLI prints', async () => {
    const used = [...new Set(commands(/\bnpx sluice ([a-z-]+)/g).map(({ words: [command] }) => command!))].sort();
    expect(used).toEqual(['guard', 'release']);
    for (const command of used) {
      const help = await run(process.execPath, ['--import', 'tsx', 'bin/sluice.ts', command, '--help'], { cwd: projectRoot, env: process.env });
      expect(help.exitCode, `sluice ${command} --help`).toBe(0);
      expect(help.stdout, `sluice ${command} --help`).toMatch(new RegExp(`^ {2}sluice ${command}\\b`, 'm'));
    }
  });

  it('scripts run by path and local workflows exist', () => {
    const paths = commands(/\b(?:bash|sh|node) (\.?[\w-]+\/[\w./-]+)/g).map(({ words: [path] }) => path!);
    const localWorkflows = workflowFiles.flatMap((file) => Object.values(load(file).jobs).map((job) => job.uses).filter((uses): uses is string => uses?.startsWith('./') ?? false));
    expect(localWorkflows.length).toBeGreaterThan(0);
    expect([...paths, ...localWorkflows].filter((path) => !existsSync(join(projectRoot, path)))).toEqual([]);
  });
});

describe('test.yml (shared by both workflows)', () => {
  it('installs what .ci/run installs, then runs npm ci and npm test', () => {
    const job = test.jobs.test!;
    const ciRunPackages = [...readFileSync(join(projectRoot, '.ci/run'), 'utf8').matchAll(/apt-get install -y ([\w\s-]+?)$/gm)].flatMap(([, names]) => names!.trim().split(/\s+/));
    expect(ciRunPackages).toContain('haproxy');
    for (const name of ciRunPackages) expect(step(job, 'apt').run).toMatch(new RegExp(`apt-get install -y .*\\b${name}\\b`));
    expect(stepIds(job)).toEqual(['actions/checkout', 'actions/setup-node', 'apt', 'install', 'test']);
    expect(step(job, 'install').run).toMatch(/^npm ci\b/);
    expect(step(job, 'test').run).toBe('npm test');
    expect(Object.keys(test.on)).toContain('workflow_call');
  });
});

describe('pull-request.yml', () => {
  it('runs on pull requests, again when a label is added or removed (the override)', () => {
    expect(pullRequest.on.pull_request).toEqual({ types: ['opened', 'synchronize', 'reopened', 'labeled', 'unlabeled'] });
    expect(pullRequest.jobs.test).toEqual({ uses: './.github/workflows/test.yml' });
  });

  it('check: synth per stage, the base synthesized in the same job, the guard, the diff, the report, one comment, then the verdict', () => {
    expect(stepIds(check)).toEqual(['actions/checkout', 'actions/setup-node', 'install', 'synth-dev', 'synth-prod', 'synth-base', 'guard', 'aws', 'diff', 'report', 'comment', 'refuse']);
    expect(step(check, 'synth-dev').run).toBe('npx cdk synth -c stage=dev --quiet --output cdk.out-dev');
    expect(step(check, 'synth-prod').run).toBe('npx cdk synth -c stage=prod --quiet --output cdk.out-prod');
    const base = step(check, 'synth-base').run!;
    expect(check.env?.BASE_SHA).toBe('${{ github.event.pull_request.base.sha }}');
    expect(base).toContain('git worktree add --detach "$RUNNER_TEMP/base" "$BASE_SHA"');
    expect(base.indexOf('npm ci')).toBeLessThan(base.indexOf('npx cdk synth'));
    expect(base).toContain('npx cdk synth -c stage=dev --quiet --output "$GITHUB_WORKSPACE/base.out-dev"');
    expect(base).toContain('npx cdk synth -c stage=prod --quiet --output "$GITHUB_WORKSPACE/base.out-prod"');
  });

  it('the override is the label allow-destructive-change, the one the README names', () => {
    expect(check.env?.ALLOW_DESTRUCTIVE).toBe("${{ contains(github.event.pull_request.labels.*.name, 'allow-destructive-change') }}");
    expect(readFileSync(join(projectRoot, 'README.md'), 'utf8')).toContain('label **`allow-destructive-change`**');
  });

  it('cdk diff goes through the pull-request role over OIDC, and only when the repository has one', () => {
    expect(check.permissions).toEqual({ contents: 'read', 'id-token': 'write', 'pull-requests': 'write' });
    const aws = step(check, 'aws');
    expect(aws.if).toContain("vars.AWS_PR_ROLE_ARN != ''");
    expect(aws.uses).toMatch(/^aws-actions\/configure-aws-credentials@/);
    expect(aws.with).toEqual({ 'role-to-assume': '${{ vars.AWS_PR_ROLE_ARN }}', 'aws-region': '${{ vars.AWS_REGION }}' });
    const diff = step(check, 'diff');
    expect(diff.if).toBe("steps.aws.outcome == 'success'");
    expect(diff.run).toContain('npx cdk diff sluice-dev -c stage=dev --method template --no-color > pr-report/diff-dev.txt');
    expect(diff.run).toContain('npx cdk diff sluice-prod -c stage=prod --method template --no-color > pr-report/diff-prod.txt');
  });

  it('the report, the comment and the verdict run even after a failed step', () => {
    for (const id of ['report', 'comment', 'refuse']) expect(step(check, id).if).toMatch(/^always\(\) && /);
    expect(step(check, 'refuse').if).toContain("steps.guard.outputs.status != '0'");
  });

  describe('the guard step, run with a stand-in npx', () => {
    async function runGuardStep(exitCodes: { dev: number; prod: number }, allowDestructive: boolean) {
      const dir = scratchDir();
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      // Records its arguments and exits as sluice guard would for that stage.
      writeFileSync(join(bin, 'npx'), `#!/usr/bin/env bash\necho "$*" >> "${dir}/calls"\ncase "$*" in *cdk.out-dev*) exit ${exitCodes.dev};; *) exit ${exitCodes.prod};; esac\n`);
      chmodSync(join(bin, 'npx'), 0o755);
      const output = join(dir, 'github-output');
      writeFileSync(output, '');
      const result = await run('bash', ['-e', '-o', 'pipefail', '-c', step(check, 'guard').run!], {
        cwd: dir,
        env: { PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: output, ALLOW_DESTRUCTIVE: String(allowDestructive) },
      });
      return { exitCode: result.exitCode, output: readFileSync(output, 'utf8'), calls: readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') };
    }

    it('judges both stages and records a refusal of either without failing the step', async () => {
      const result = await runGuardStep({ dev: 6, prod: 0 }, false);
      expect(result.exitCode).toBe(0);
      expect(result.output).toBe('status=6\n');
      expect(result.calls).toEqual([
        'sluice guard --base base.out-dev --head cdk.out-dev --markdown pr-report/guard-dev.md',
        'sluice guard --base base.out-prod --head cdk.out-prod --markdown pr-report/guard-prod.md',
      ]);
      expect((await runGuardStep({ dev: 0, prod: 3 }, false)).output).toBe('status=3\n');
      expect((await runGuardStep({ dev: 0, prod: 0 }, false)).output).toBe('status=0\n');
    });

    it('passes --allow-destructive when the label is on the pull request', async () => {
      const result = await runGuardStep({ dev: 0, prod: 0 }, true);
      expect(result.calls.every((call) => call.endsWith(' --allow-destructive'))).toBe(true);
    });
  });

  describe('the report step, run on report files', () => {
    async function runReportStep(files: Record<string, string>, hasPrRole: boolean) {
      const dir = scratchDir();
      mkdirSync(join(dir, 'pr-report'));
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'pr-report', name), text);
      const summary = join(dir, 'summary.md');
      const result = await run('bash', ['-e', '-o', 'pipefail', '-c', step(check, 'report').run!], {
        cwd: dir,
        env: { PATH: process.env.PATH, HEAD_SHA: '0123456789abcdef0123456789abcdef01234567', HAS_PR_ROLE: String(hasPrRole), GITHUB_STEP_SUMMARY: summary },
      });
      expect(result.exitCode).toBe(0);
      const comment = readFileSync(join(dir, 'pr-report/comment.md'), 'utf8');
      expect(readFileSync(summary, 'utf8')).toBe(comment);
      return comment;
    }

    it('holds the marker, each stage\'s guard verdict and cdk-nag summary, and its diff', async () => {
      const comment = await runReportStep({
        'guard-dev.md': '#### ✅ Destructive-change guard: no stateful resource replaced or removed\n\n#### cdk-nag: 0 unacknowledged findings, 6 acknowledged\n',
        'diff-dev.txt': 'Stack sluice-dev\nResources\n[~] AWS::SQS::Queue WorkQueue WorkQueueAD162499\n',
        'guard-prod.md': '#### 🛑 Destructive-change guard: stateful resources would be replaced or removed\n',
        'diff-prod.txt': 'Stack sluice-prod\nThere were no differences\n',
      }, true);
      expect(comment.split('\n')[0]).toBe('<!-- sluice-pr-report -->');
      expect(comment).toContain('## sluice: what merging 0123456 changes\n');
      expect(comment).toContain('### Stage `dev`\n\n#### ✅ Destructive-change guard: no stateful resource replaced or removed\n\n#### cdk-nag: 0 unacknowledged findings, 6 acknowledged\n');
      expect(comment).toContain('<summary><code>cdk diff</code> of sluice-dev against the deployed stack</summary>\n\n```\nStack sluice-dev\nResources\n[~] AWS::SQS::Queue WorkQueue WorkQueueAD162499\n```');
      expect(comment).toContain('### Stage `prod`\n\n#### 🛑 Destructive-change guard');
      expect(comment).toContain('```\nStack sluice-prod\nThere were no differences\n```');
    });

    it('says why a part is missing: no role configured, a failed diff, a failed synth', async () => {
      const noRole = await runReportStep({ 'guard-dev.md': 'dev verdict\n', 'guard-prod.md': 'prod verdict\n' }, false);
      expect(noRole.match(/`cdk diff` skipped: set the repository variables `AWS_PR_ROLE_ARN` and `AWS_REGION`/g)).toHaveLength(2);
      const failed = await runReportStep({ 'guard-dev.md': 'dev verdict\n' }, true);
      expect(failed).toContain('### Stage `prod`\n\n_The guard did not run (a synth failed): see the job log._\n\n_`cdk diff` did not run: see the job log._');
    });

    it('cuts a long diff so the comment stays under GitHub\'s 65,536 characters', async () => {
      const line = `${'[~] AWS::EC2::LaunchTemplate '.padEnd(99, 'x')}\n`;
      const comment = await runReportStep({ 'guard-dev.md': 'v\n', 'guard-prod.md': 'v\n', 'diff-dev.txt': line.repeat(1000), 'diff-prod.txt': line.repeat(1000) }, true);
      expect(comment.length).toBeLessThan(65_536);
      expect(comment.match(/… cut at 25000 characters: the whole diff is in the job log/g)).toHaveLength(2);
    });
  });

  describe('the comment step, run against a stand-in GitHub API', () => {
    const marker = '<!-- sluice-pr-report -->';

    async function runCommentStep(existing: { id: number; user: { type: string }; body: string; html_url: string }[]) {
      const dir = scratchDir();
      const reportFile = join(dir, 'comment.md');
      writeFileSync(reportFile, `${marker}\n## sluice: what merging 0123456 changes\n`);
      const calls: { method: string; params: Record<string, unknown> }[] = [];
      const listComments = async () => ({ data: existing });
      const github = {
        paginate: async (method: unknown, params: Record<string, unknown>) => {
          calls.push({ method: method === listComments ? 'listComments' : 'unknown', params });
          return existing;
        },
        rest: {
          issues: {
            listComments,
            createComment: async (params: Record<string, unknown>) => { calls.push({ method: 'createComment', params }); return { data: { html_url: 'https://github.com/o/r/pull/7#issuecomment-99' } }; },
            updateComment: async (params: Record<string, unknown>) => { calls.push({ method: 'updateComment', params }); return { data: {} }; },
          },
        },
      };
      const context = { repo: { owner: 'octo', repo: 'sluice' }, issue: { number: 7 } };
      const core = { info: () => {} };
      // github-script runs the script as the body of an async function with these in scope.
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...values: unknown[]) => Promise<void>;
      const script = step(check, 'comment').with!.script!;
      await new AsyncFunction('github', 'context', 'core', 'require', 'process', script)(github, context, core, (name: string) => (name === 'fs' ? { readFileSync } : undefined), { env: { REPORT_FILE: reportFile } });
      return { calls, body: readFileSync(reportFile, 'utf8') };
    }

    it('creates the comment when the pull request has none (a person quoting the marker does not count)', async () => {
      const { calls, body } = await runCommentStep([{ id: 5, user: { type: 'User' }, body: `quoting ${marker}`, html_url: 'u' }]);
      expect(calls).toEqual([
        { method: 'listComments', params: { owner: 'octo', repo: 'sluice', issue_number: 7, per_page: 100 } },
        { method: 'createComment', params: { owner: 'octo', repo: 'sluice', issue_number: 7, body } },
      ]);
    });

    it('edits its own comment, found by the marker, on the next push', async () => {
      const { calls, body } = await runCommentStep([
        { id: 5, user: { type: 'User' }, body: 'looks good', html_url: 'u' },
        { id: 42, user: { type: 'Bot' }, body: `${marker}\nolder report`, html_url: 'https://github.com/o/r/pull/7#issuecomment-42' },
      ]);
      expect(calls.slice(1)).toEqual([{ method: 'updateComment', params: { owner: 'octo', repo: 'sluice', comment_id: 42, body } }]);
    });
  });
});

describe('main.yml', () => {
  it('runs on pushes to main: test, package once, then dev, then prod', () => {
    expect(main.on).toEqual({ push: { branches: ['main'] } });
    expect(main.jobs.test).toEqual({ uses: './.github/workflows/test.yml' });
    expect(main.jobs.package?.needs).toBe('test');
    expect(main.jobs.dev?.needs).toBe('package');
    expect(main.jobs.prod?.needs).toBe('dev');
  });

  it('package: builds the artifact for this commit and keeps it and its checksum for both stages', () => {
    const job = main.jobs.package!;
    expect(stepIds(job)).toEqual(['actions/checkout', 'actions/setup-node', 'install', 'package', 'keep']);
    expect(step(job, 'package').run).toBe('npm run package -- "$GITHUB_SHA"');
    expect(step(job, 'keep').with).toEqual({ name: 'release', path: 'dist/releases/${{ github.sha }}.tgz\ndist/releases/${{ github.sha }}.tgz.sha256\n', 'if-no-files-found': 'error' });
  });

  describe.each(['dev', 'prod'])('%s', (stage) => {
    const job = main.jobs[stage]!;

    it('deploys, uploads the artifact and its checksum, and releases this commit, in that order', () => {
      expect(stepIds(job)).toEqual(['actions/checkout', 'actions/setup-node', 'install', 'fetch', 'aws', 'deploy', 'upload', 'release']);
      expect(step(job, 'fetch').with).toEqual({ name: 'release', path: 'dist/releases' });
      expect(step(job, 'deploy').run).toBe(`npx cdk deploy sluice-${stage} -c stage=${stage} --no-lookups --require-approval never`);
      const upload = step(job, 'upload').run!;
      expect(upload).toContain(`--stack-name sluice-${stage} --query "Stacks[0].Outputs[?OutputKey=='ArtifactBucketName'].OutputValue"`);
      expect(upload).toContain('aws s3 cp "dist/releases/$GITHUB_SHA.tgz" "s3://$bucket/releases/$GITHUB_SHA.tgz"');
      expect(upload).toContain('aws s3 cp "dist/releases/$GITHUB_SHA.tgz.sha256" "s3://$bucket/releases/$GITHUB_SHA.tgz.sha256"');
      expect(step(job, 'release').run).toBe(`npx sluice release "$GITHUB_SHA" --stage ${stage} --supersede`);
    });

    it('assumes the deploy role over OIDC: no long-lived keys', () => {
      expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
      expect(step(job, 'aws').with).toEqual({ 'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}', 'aws-region': '${{ vars.AWS_REGION }}' });
      expect(JSON.stringify(main)).not.toMatch(/secrets\.|aws-access-key-id/);
    });

    it(`runs in the ${stage} environment and the sluice-${stage} concurrency group, never cancelling a deploy or release in progress`, () => {
      expect(job.environment).toBe(stage);
      expect(job.concurrency).toEqual({ group: `sluice-${stage}`, 'cancel-in-progress': false });
    });
  });
});

// --- helpers ---------------------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'sluice-workflows-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
function scratchDir(): string {
  const dir = join(scratch, String((scratchCount += 1)));
  mkdirSync(dir);
  return dir;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}
