import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BadInputError } from '../../../lib/runtime/release/errors.ts';
import { packageRelease } from '../../../lib/runtime/release/package-release.ts';
import { freePort } from '../../helpers/haproxy.ts';
import { httpGet } from '../../helpers/local-fleet.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('packageRelease', () => {
  it('builds releases/<version>.tgz whose server.mjs and worker.mjs run on their own', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'sluice-artifact-'));
    const artifact = await packageRelease({ version: '1.2.3', projectRoot, outDir });
    expect(artifact).toBe(join(outDir, 'releases', '1.2.3.tgz'));
    const { stdout: listing } = await promisify(execFile)('tar', ['-tzf', artifact]);
    expect(listing.trim().split('\n').sort()).toEqual(['release.json', 'server.mjs', 'worker.mjs']);

    // Unpacked as sluice-install does, run with the environment systemd gives it.
    const releaseDir = await mkdtemp(join(tmpdir(), 'sluice-release-'));
    await promisify(execFile)('tar', ['-xzf', artifact, '-C', releaseDir]);
    const port = await freePort();
    const server = spawn(process.execPath, ['server.mjs'], { cwd: releaseDir, env: {
      PATH: process.env.PATH,
      APP_PORT: String(port),
      HEALTH_CHECK_PATH: '/health',
      SLUICE_VERSION: '1.2.3',
      // The web app refuses to start without where POST /jobs and POST /events go (never called here).
      WORK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/work',
      EVENT_STREAM_NAME: 'events',
    } });
    children.push(server);
    let health: { status: number; body: string } | undefined;
    for (let attempt = 0; attempt < 100 && health?.status !== 200; attempt += 1) {
      health = await httpGet(port, '/health').catch(() => undefined);
      if (health?.status !== 200) await sleep(50);
    }
    expect(health).toMatchObject({ status: 200, body: '{"status":"ok","version":"1.2.3"}' });
    server.kill('SIGTERM');
    const [code] = await once(server, 'exit');
    expect(code).toBe(0);

    // Without QUEUE_URL (the stage consumes its queue with Lambda) the worker stays idle and exits 0.
    const worker = spawn(process.execPath, ['worker.mjs'], { cwd: releaseDir, env: { PATH: process.env.PATH } });
    children.push(worker);
    const [workerCode] = await once(worker, 'exit');
    expect(workerCode).toBe(0);
  });

  it('refuses a version that could not be installed', async () => {
    await expect(packageRelease({ version: '../x', projectRoot, outDir: tmpdir() })).rejects.toBeInstanceOf(BadInputError);
  });
});
