// `npx sluice guard` as CI runs it: the real executable in its own process, its exit codes and streams.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { projectRoot } from '../../helpers/run-cdk.ts';
import { synthGuardedApp } from './guarded-app.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-guard-bin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const base = synthGuardedApp(scratch);
const fifoQueue = synthGuardedApp(scratch, { fifo: true });
const tagged = synthGuardedApp(scratch, { tag: 'payments' });

/** tsx by its resolved location: `--import tsx` would be looked up from the working directory, a temporary one here. */
const tsx = pathToFileURL(createRequire(join(projectRoot, 'package.json')).resolve('tsx')).href;

/** No AWS environment at all: the guard is offline. */
function sluiceGuard(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsx, join(projectRoot, 'bin/sluice.ts'), 'guard', ...args], { cwd: scratch, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe.concurrent('bin/sluice.ts guard', () => {
  it('exits 0 for an in-place change, with the verdict on stdout and nothing on stderr', async ({ expect }) => {
    const run = await sluiceGuard('--base', base.dir, '--head', tagged.dir);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('\nclean: no stateful resource would be replaced or removed\n');
    expect(run.stderr).toBe('');
  });

  it('exits 6 for a replacement, naming the resource on stdout and the refusal on stderr', async ({ expect }) => {
    const run = await sluiceGuard('--base', base.dir, '--head', fifoQueue.dir);
    expect(run.exitCode).toBe(6);
    expect(run.stdout).toContain(`guarded ${base.ids.queue} (AWS::SQS::Queue, Guarded/Work/Resource): replaced`);
    expect(run.stderr).toMatch(/^sluice guard: refusing: /);
  });

  it('exits 3 when the head is not there (default cdk.out), with one line and no stack trace', async ({ expect }) => {
    const run = await sluiceGuard('--base', base.dir);
    expect(run).toEqual({ exitCode: 3, stdout: '', stderr: 'sluice guard: --head cdk.out: no such directory; synthesize first (npx cdk synth --output cdk.out)\n' });
  });

  it('--help prints the guard usage with its exit codes and exits 0', async ({ expect }) => {
    const run = await sluiceGuard('--help');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^Usage:\n {2}sluice guard --base <cdk.out dir> \[--head <cdk.out dir>\] \[options\]\n/);
    expect(run.stdout).toContain('Exit codes: 0 nothing stateful replaced or removed (or --allow-destructive);\n            3 bad input (missing directory, no manifest.json, bad flag); 6 destructive change.\n');
  });
});
