// What the sandbox does when things are not as they should be: a sandbox killed outright (its
// services keep running), a second start over a running one, a machine without HAProxy, and
// `status` with no sandbox. Nothing may be left running, and every refusal says what to do.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runSandboxCli } from '../../../lib/runtime/sandbox/cli/run-sandbox-cli.ts';
import { sandboxProcesses } from '../../../lib/runtime/sandbox/leftovers.ts';
import { startSandbox } from '../../../lib/runtime/sandbox/sandbox.ts';
import { sandboxReleaseArgs, sandboxReleaseEnvironment } from '../../../lib/runtime/sandbox/sandbox-guide.ts';
import type { SandboxState } from '../../../lib/runtime/sandbox/sandbox-state.ts';
import { requireHaproxy } from '../../helpers/haproxy.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';
import { runSluice, startSluice } from '../../helpers/sluice-process.ts';

function postJob(url: string): Promise<{ status: number; messageId?: string }> {
  const body = JSON.stringify({ type: 'recovery-check' });
  return new Promise((resolve, reject) => {
    const outgoing = request(`${url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, ...(JSON.parse(text) as { messageId?: string }) }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function cli(argv: string[], overrides: { locateHaproxy?: () => string | undefined } = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const run = runSandboxCli(argv, { projectRoot, stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line), signal: new AbortController().signal, ...overrides });
  return run.then((code) => ({ code, stdout: stdout.join('\n'), stderr: stderr.join('\n') }));
}

describe('sluice sandbox refusals', () => {
  it('without HAProxy: exit 3 naming the install command, nothing started or written', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sluice-sandbox-test-')), 'sandbox');
    const run = await cli(['--dir', dir], { locateHaproxy: () => undefined });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('sluice sandbox: HAProxy is not installed, and the sandbox runs the load balancer with it: install it (sudo apt-get install -y haproxy), then run npx sluice sandbox again');
    expect(existsSync(dir)).toBe(false);
  });

  it('status and package with no sandbox: exit 3, saying how to start one', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sluice-sandbox-test-')), 'sandbox');
    for (const argv of [['status', '--dir', dir], ['package', 'v2', '--dir', dir]]) {
      const run = await cli(argv);
      expect(run.code).toBe(3);
      expect(run.stderr).toBe(`sluice sandbox: no sandbox in ${dir}: start one with npx sluice sandbox --dir ${dir}`);
    }
  });

  it('bad flags: exit 3 with every problem', async () => {
    const run = await cli(['package', '--json', '--demo']);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      [
        'sluice sandbox: 3 problems:',
        '  - sluice sandbox package needs the version to build, e.g. sluice sandbox package v2',
        '  - --demo applies to starting the sandbox only (given with sluice sandbox package)',
        '  - --json applies to sluice sandbox status only (given with sluice sandbox package)',
      ].join('\n'),
    );
  });
});

describe.skipIf(!requireHaproxy())('a sandbox killed outright', () => {
  it('leaves its services running; the next start clears them first, refuses a second start beside it, rolls a broken release back, and its stop leaves nothing', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sluice-sandbox-test-')), 'sandbox');
    const killed = startSluice(['sandbox', '--dir', dir, '--no-database', '--no-status-page']);
    try {
      await killed.waitForOutput('Ctrl-C stops everything', 90_000);
      const before = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as SandboxState;
      killed.child.kill('SIGKILL');
      await killed.exited;
      // Its web apps, workers and HAProxy outlive it (each in its own process group): 3 + 2 + 1.
      const orphans = sandboxProcesses(dir);
      expect(orphans.length).toBeGreaterThanOrEqual(6);

      const status = await cli(['status', '--dir', dir]);
      expect(status.code).toBe(3);
      expect(status.stderr).toBe(`sluice sandbox: the sandbox in ${dir} (pid ${before.pid}) is not running any more: start it again with npx sluice sandbox`);

      const progress: string[] = [];
      const sandbox = await startSandbox({ projectRoot, dir, database: false, targets: 2, workers: 1, progress: (line) => progress.push(line) });
      try {
        expect(progress[0]).toBe(`clearing what the sandbox of pid ${before.pid} left behind in ${dir}`);
        expect(progress).toContain('no database (--no-database): the app runs without one, and no migrations are applied');
        const survivors = orphans.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'));
        expect(survivors, 'every process of the killed sandbox is gone').toEqual([]);
        expect(sandbox.state.url).not.toBe(before.url);

        const second = await cli(['--dir', dir]);
        expect(second.code).toBe(3);
        expect(second.stderr).toBe(`sluice sandbox: a sandbox is running already (pid ${process.pid}, ${sandbox.state.url}, directory ${dir}): stop it with Ctrl-C in its terminal (or kill ${process.pid}), or pass --dir to start another`);

        // The new one works without a database: a job goes through to the external API.
        const job = await postJob(sandbox.state.url);
        expect(job.status).toBe(202);
        const deadline = Date.now() + 20_000;
        while (!sandbox.jobDeliveries().has(job.messageId!) && Date.now() < deadline) await sleep(100);
        expect(sandbox.jobDeliveries().get(job.messageId!)).toBe(1);

        // A version the sandbox has not built: refused before anything is touched, saying how to build it.
        const missing = await runSluice(sandboxReleaseArgs(sandbox.state, 'v7'), { env: sandboxReleaseEnvironment(sandbox.state) });
        expect(missing.exitCode).toBe(3);
        expect(missing.stderr).toContain(`no release v7: ${join(sandbox.state.releasesDir, 'v7')} does not exist; unpack the release there first (for the sandbox: npx sluice sandbox package v7)`);

        // A version that never turns healthy is rolled back to the sandbox's first one (its launch
        // version), not to "none"; the workers stay where they are.
        const broken = join(sandbox.state.releasesDir, 'broken');
        mkdirSync(broken);
        writeFileSync(join(broken, 'server.mjs'), "console.error('broken on purpose'); process.exit(1);\n");
        const release = await runSluice([...sandboxReleaseArgs(sandbox.state, 'broken'), '--install-timeout', '10s'], { env: sandboxReleaseEnvironment(sandbox.state), timeoutMs: 90_000 });
        expect(release.stdout + release.stderr).toMatch(/rolled back/i);
        expect(release.exitCode).toBe(1);
        const after = await sandbox.status.snapshot();
        expect(after.targets.map(({ version, state }) => [version, state])).toEqual([['v1', 'serving'], ['v1', 'serving']]);
        expect(after.release).toMatchObject({ fromVersion: 'v1', toVersion: 'broken', state: 'rolled-back' });
        expect(sandbox.workersVersion()).toBe('v1');
      } finally {
        await sandbox.stop();
      }
      expect(sandboxProcesses(dir)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    } finally {
      killed.child.kill('SIGKILL');
    }
  }, 180_000);
});
