import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface CdkRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The cloud assembly directory this run wrote to. */
  readonly outdir: string;
}

/** Runs the project's pinned CDK CLI, as a user would, into a fresh output directory. */
export function runCdk(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CdkRun> {
  const outdir = mkdtempSync(join(tmpdir(), 'sluice-cdk-out-'));
  const cli = join(projectRoot, 'node_modules', '.bin', 'cdk');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CI: 'true', ...env };
  // Keep a developer's AWS environment out: synth must work with no account.
  for (const key of ['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'CDK_DEPLOY_ACCOUNT', 'CDK_DEPLOY_REGION']) {
    if (!(key in env)) delete childEnv[key];
  }
  return new Promise((resolve) => {
    execFile(cli, [...args, '--output', outdir, '--no-notices'], { cwd: projectRoot, env: childEnv, timeout: 120_000 }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ exitCode, stdout, stderr, outdir });
    });
  });
}
