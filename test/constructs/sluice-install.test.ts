// sluice-install, the script every instance runs to put a release live, run for real under bash: in a
// temporary root (SLUICE_ROOT), with artifacts from a local folder or a loopback HTTP server, the two
// services as plain node processes (SLUICE_SERVICE_MANAGER=process) and real health checks.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { installScript } from '../../lib/constructs/app-tier/instance-user-data.ts';
import { packageRelease } from '../../lib/runtime/release/package-release.ts';
import { freePort } from '../helpers/haproxy.ts';
import { type HttpAnswer, httpGet, killRecorded } from '../helpers/local-fleet.ts';
import { projectRoot } from '../helpers/run-cdk.ts';

const run = promisify(execFile);

/** A release's web app: answers the health check with its version and pid (so a test sees a restart), or 503. */
const serverSource = (healthy: boolean) => `
import { createServer } from 'node:http';
const server = createServer((request, response) => {
  const health = request.url === process.env.HEALTH_CHECK_PATH;
  response.writeHead(health && ${healthy} ? 200 : 503, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ status: ${healthy} ? 'ok' : 'failing', version: process.env.SLUICE_VERSION, pid: process.pid }));
}).listen(Number(process.env.APP_PORT), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
`;
/** A release's worker: runs until SIGTERM. */
const workerSource = "const timer = setInterval(() => {}, 1000); process.once('SIGTERM', () => clearInterval(timer));\n";

interface InstallRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface Instance {
  readonly root: string;
  readonly releasesDir: string;
  /** Where artifacts are published: ARTIFACT_SOURCE's folder. */
  readonly artifactsDir: string;
  install(version: string): Promise<InstallRun>;
  /** What the local health check answers now (undefined when nothing listens). */
  health(): Promise<HttpAnswer | undefined>;
  /** `current`'s target, e.g. `releases/1.0.0`. */
  current(): Promise<string>;
  /** The releases unpacked on the instance. */
  releases(): Promise<string[]>;
  /** Pid of the worker process the process manager runs, and its working directory. */
  worker(): Promise<{ pid: number; cwd: string }>;
  /** Writes `<version>.tgz` and its `.sha256` to the artifact folder. */
  publish(version: string, options?: { healthy?: boolean }): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface InstanceOptions {
  /** @default 'file' */
  readonly source?: 'file' | 'http';
  /** @default 2 */
  readonly healthTimeoutSeconds?: number;
}

async function instance(options: InstanceOptions = {}): Promise<Instance> {
  const root = await mkdtemp(join(tmpdir(), 'sluice-install-'));
  const artifactsDir = join(root, 'artifacts');
  const buildDir = join(root, 'build');
  const releasesDir = join(root, 'opt/sluice/releases');
  await Promise.all([mkdir(join(root, 'etc/sluice'), { recursive: true }), mkdir(join(root, 'opt/sluice/bin'), { recursive: true }), mkdir(artifactsDir), mkdir(buildDir)]);
  // The script as the user data writes it on an instance.
  const script = join(root, 'opt/sluice/bin/sluice-install');
  await writeFile(script, installScript, { mode: 0o755 });
  let source = `file://${artifactsDir}`;
  if (options.source === 'http') {
    const server = await serveDirectory(artifactsDir);
    source = `http://127.0.0.1:${(server.address() as { port: number }).port}/releases`;
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  }
  const port = await freePort();
  await writeFile(join(root, 'etc/sluice/env'), [
    `APP_PORT=${port}`,
    'HEALTH_CHECK_PATH=/health',
    `INSTALL_HEALTH_TIMEOUT_SECONDS=${options.healthTimeoutSeconds ?? 2}`,
    'WORKER_STOP_TIMEOUT_SECONDS=5',
    `ARTIFACT_SOURCE=${source}`,
    // Where the web app's POST /jobs and POST /events go; the instance's env file always has them.
    'WORK_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/work',
    'EVENT_STREAM_NAME=events',
    '',
  ].join('\n'));
  cleanups.push(async () => {
    await killRecorded(join(root, 'run/sluice'));
    await rm(root, { recursive: true, force: true });
  });
  const pidOf = async (service: string) => Number((await readFile(join(root, 'run/sluice', `${service}.pid`), 'utf8')).trim());
  return {
    root,
    releasesDir,
    artifactsDir,
    async install(version) {
      const env = { PATH: process.env.PATH, SLUICE_ROOT: root, SLUICE_SERVICE_MANAGER: 'process', SLUICE_NODE: process.execPath };
      return run(script, [version], { env, timeout: 60_000 }).then(
        ({ stdout, stderr }) => ({ exitCode: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ exitCode: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
    },
    health: () => httpGet(port, '/health').catch(() => undefined),
    current: () => readlink(join(root, 'opt/sluice/current')),
    releases: async () => (await readdir(releasesDir)).sort(),
    async worker() {
      const pid = await pidOf('worker');
      return { pid, cwd: await readlink(`/proc/${pid}/cwd`) };
    },
    async publish(version, { healthy = true } = {}) {
      const dir = join(buildDir, version);
      await mkdir(dir);
      await writeFile(join(dir, 'server.mjs'), serverSource(healthy));
      await writeFile(join(dir, 'worker.mjs'), workerSource);
      await run('tar', ['-czf', join(artifactsDir, `${version}.tgz`), '-C', dir, 'server.mjs', 'worker.mjs']);
      await run('sh', ['-c', `sha256sum ${version}.tgz > ${version}.tgz.sha256`], { cwd: artifactsDir });
    },
  };
}

/** A static file server on a loopback port, standing in for the artifact bucket: `/releases/<file>`. */
async function serveDirectory(directory: string): Promise<Server> {
  const server = createServer((request, response) => {
    const name = /^\/releases\/([\w.+-]+)$/.exec(request.url ?? '')?.[1];
    const file = name && createReadStream(join(directory, name));
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    file.once('error', () => response.writeHead(404).end());
    file.once('open', () => file.pipe(response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1);
const healthBody = async (node: Instance) => JSON.parse((await node.health())?.body ?? 'null') as { status: string; version: string; pid: number } | null;

describe('sluice-install', () => {
  it('installs an artifact built by npm run package from a loopback HTTP server: verified, unpacked, live, with source maps on', async () => {
    const node = await instance({ source: 'http', healthTimeoutSeconds: 20 });
    // Uploaded as the README says: both files.
    const packaged = await packageRelease({ version: '1.0.0', projectRoot, outDir: join(node.root, 'dist'), env: {} });
    await copyFile(packaged.artifact, join(node.artifactsDir, '1.0.0.tgz'));
    await copyFile(packaged.checksumFile, join(node.artifactsDir, '1.0.0.tgz.sha256'));

    const result = await node.install('1.0.0');

    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toBe('sluice-install: 1.0.0 is live\n{"status":"ok","version":"1.0.0"}\n');
    expect(await node.current()).toBe('releases/1.0.0');
    expect((await readdir(join(node.releasesDir, '1.0.0'))).sort()).toEqual(['.complete', 'manifest.json', 'release.json', 'server.mjs', 'server.mjs.map', 'worker.mjs', 'worker.mjs.map']);
    expect(await node.health()).toMatchObject({ status: 200, body: '{"status":"ok","version":"1.0.0"}' });
    const webPid = Number(await readFile(join(node.root, 'run/sluice/web.pid'), 'utf8'));
    expect((await readFile(`/proc/${webPid}/cmdline`, 'utf8')).split('\0')).toEqual([process.execPath, '--enable-source-maps', 'server.mjs', '']);
    expect(await readFile(join(node.root, 'etc/sluice/release.env'), 'utf8')).toBe('SLUICE_VERSION=1.0.0\n');
  }, 60_000);

  it('switches current atomically: a reader polling the link during two installs never finds it missing', async () => {
    const node = await instance();
    for (const version of ['1.0.0', '2.0.0', '3.0.0']) await node.publish(version);
    expect((await node.install('1.0.0')).exitCode).toBe(0);

    const stopFile = join(node.root, 'stop-reading');
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      const [link, stopFile] = process.argv.slice(1);
      let reads = 0, missing = 0; const seen = new Set();
      while (!fs.existsSync(stopFile)) {
        for (let i = 0; i < 200; i += 1, reads += 1) {
          try { seen.add(fs.readlinkSync(link)); } catch { missing += 1; }
        }
        if (reads === 200) process.stderr.write('reading\\n');
      }
      process.stdout.write(JSON.stringify({ reads, missing, seen: [...seen].sort() }));
    `, join(node.root, 'opt/sluice/current'), stopFile]);
    cleanups.push(async () => void reader.kill('SIGKILL'));
    const output = collect(reader);
    await once(reader.stderr!, 'data');

    for (const version of ['2.0.0', '3.0.0']) {
      expect((await node.install(version)).exitCode).toBe(0);
      expect(await healthBody(node)).toMatchObject({ status: 'ok', version });
    }
    await writeFile(stopFile, '');
    const observed = JSON.parse(await output) as { reads: number; missing: number; seen: string[] };

    expect(observed.missing).toBe(0);
    // Progress: the reader was reading throughout, and saw every switch.
    expect(observed.seen).toEqual(['releases/1.0.0', 'releases/2.0.0', 'releases/3.0.0']);
    expect(observed.reads).toBeGreaterThan(1000);
  });

  it.each([
    ['a checksum file for other bytes', async (node: Instance) => writeFile(join(node.artifactsDir, '2.0.0.tgz.sha256'), `${sha256('other bytes')}  2.0.0.tgz\n`)],
    ['an artifact changed after its checksum was written', async (node: Instance) => writeFile(join(node.artifactsDir, '2.0.0.tgz'), Buffer.concat([await readFile(join(node.artifactsDir, '2.0.0.tgz')), Buffer.from('x')]))],
    ['an empty checksum file', async (node: Instance) => writeFile(join(node.artifactsDir, '2.0.0.tgz.sha256'), '')],
  ])('refuses %s with exit 5, touching nothing live', async (_case, tamper) => {
    const node = await instance({ source: 'http' });
    await node.publish('1.0.0');
    await node.publish('2.0.0');
    expect((await node.install('1.0.0')).exitCode).toBe(0);
    const before = { health: await healthBody(node), worker: await node.worker(), releaseEnv: await readFile(join(node.root, 'etc/sluice/release.env'), 'utf8') };
    await tamper(node);

    const result = await node.install('2.0.0');

    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/^sluice-install: 2\.0\.0\.tgz does not match its checksum \(expected '[0-9a-f]*', downloaded [0-9a-f]{64}\); nothing was changed/);
    expect(await node.current()).toBe('releases/1.0.0');
    expect(await node.releases()).toEqual(['1.0.0']);
    // The same processes serve: nothing was stopped or restarted.
    expect(await healthBody(node)).toEqual(before.health);
    expect(await node.worker()).toEqual(before.worker);
    expect(await readFile(join(node.root, 'etc/sluice/release.env'), 'utf8')).toBe(before.releaseEnv);
  });

  it.each([
    ['file', '2.0.0.tgz.sha256'],
    ['http', '2.0.0.tgz.sha256'],
    ['http', '2.0.0.tgz'],
  ] as const)('refuses a version without its artifact or checksum (%s source, %s missing) with exit 3, touching nothing live', async (source, missing) => {
    const node = await instance({ source });
    await node.publish('1.0.0');
    await node.publish('2.0.0');
    expect((await node.install('1.0.0')).exitCode).toBe(0);
    const before = await healthBody(node);
    await rm(join(node.artifactsDir, missing));

    const result = await node.install('2.0.0');

    expect(result.exitCode).toBe(3);
    expect(lastLine(result.stderr)).toMatch(new RegExp(`^sluice-install: \\S+/${missing.replaceAll('.', '\\.')} could not be downloaded; build the release \\(npm run package -- 2\\.0\\.0\\) and upload both 2\\.0\\.0\\.tgz and 2\\.0\\.0\\.tgz\\.sha256$`));
    expect(await node.current()).toBe('releases/1.0.0');
    expect(await node.releases()).toEqual(['1.0.0']);
    expect(await healthBody(node)).toEqual(before);
  });

  it('restores the previous version when the new one never reports healthy, then exits 4 with the reason', async () => {
    const node = await instance({ healthTimeoutSeconds: 2 });
    await node.publish('1.0.0');
    await node.publish('2.0.0', { healthy: false });
    expect((await node.install('1.0.0')).exitCode).toBe(0);
    const before = await healthBody(node);

    const startedAt = Date.now();
    const result = await node.install('2.0.0');

    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/^sluice-install: http:\/\/127\.0\.0\.1:\d+\/health did not report version 2\.0\.0 within 2s; its log:\n/);
    expect(lastLine(result.stderr)).toBe('sluice-install: 2.0.0 never reported healthy; restored 1.0.0, which is healthy and serving');
    // 2.0.0 was really started (a new process), then 1.0.0 again (another new one).
    const after = await healthBody(node);
    expect(after).toMatchObject({ status: 'ok', version: '1.0.0' });
    expect(after?.pid).not.toBe(before?.pid);
    expect(await node.current()).toBe('releases/1.0.0');
    expect(await readFile(join(node.root, 'etc/sluice/release.env'), 'utf8')).toBe('SLUICE_VERSION=1.0.0\n');
    expect((await node.worker()).cwd).toBe(join(node.releasesDir, '1.0.0'));
    // Kept, so that a retry or a look at it needs no download.
    expect(await node.releases()).toEqual(['1.0.0', '2.0.0']);
    // One health timeout for 2.0.0, and 1.0.0 is back within seconds.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it('exits 6 when the new version never reports healthy and there is nothing to restore', async () => {
    const node = await instance({ healthTimeoutSeconds: 1 });
    await node.publish('2.0.0', { healthy: false });

    const result = await node.install('2.0.0');

    expect(result.exitCode).toBe(6);
    expect(lastLine(result.stderr)).toBe('sluice-install: 2.0.0 never reported healthy and there is no previous release to restore');
  });

  it('does nothing when the version is already live and healthy, and restarts it when it is not healthy', async () => {
    const node = await instance();
    await node.publish('1.0.0');
    expect((await node.install('1.0.0')).exitCode).toBe(0);
    const before = { health: await healthBody(node), worker: await node.worker() };

    const rerun = await node.install('1.0.0');

    expect(rerun.exitCode).toBe(0);
    expect(rerun.stdout).toBe(`sluice-install: 1.0.0 is already live\n${JSON.stringify(before.health)}\n`);
    expect(await healthBody(node)).toEqual(before.health);
    expect(await node.worker()).toEqual(before.worker);

    // Current but not serving (the web app died): the same command brings it back.
    process.kill(before.health?.pid ?? 0, 'SIGKILL');
    const repair = await node.install('1.0.0');
    expect(repair.exitCode).toBe(0);
    expect(lastLine(repair.stdout)).toMatch(/^\{"status":"ok","version":"1\.0\.0","pid":\d+\}$/);
    expect((await healthBody(node))?.pid).not.toBe(before.health?.pid);
  });

  it('keeps the 3 releases live most recently, never deleting the current or the previous one', async () => {
    const node = await instance();
    for (const version of ['1', '2', '3', '4', '5']) await node.publish(version);
    for (const version of ['1', '2', '3', '4']) expect((await node.install(version)).exitCode).toBe(0);
    expect(await node.releases()).toEqual(['2', '3', '4']);

    // Even when the previous release looks oldest (its time reset, e.g. by a clock jump), it stays.
    await utimes(join(node.releasesDir, '4'), new Date('2001-01-01'), new Date('2001-01-01'));
    expect((await node.install('5')).exitCode).toBe(0);
    expect(await node.releases()).toEqual(['3', '4', '5']);

    // A rollback to a version already deleted downloads it again, and keeps the one it replaced.
    expect((await node.install('1')).exitCode).toBe(0);
    expect(await node.releases()).toEqual(['1', '3', '5']);
    expect(await node.current()).toBe('releases/1');
    expect((await readdir(node.releasesDir, { withFileTypes: true })).filter((entry) => entry.name.startsWith('.'))).toEqual([]);
  });

  it('runs one install at a time: two started together both succeed, and the one that ran last is live', async () => {
    const node = await instance();
    for (const version of ['1.0.0', '2.0.0', '3.0.0']) await node.publish(version);
    expect((await node.install('1.0.0')).exitCode).toBe(0);

    const results = await Promise.all([node.install('2.0.0'), node.install('3.0.0')]);

    expect(results.map((result) => result.exitCode)).toEqual([0, 0]);
    const live = (await node.current()).replace('releases/', '');
    expect(['2.0.0', '3.0.0']).toContain(live);
    expect(await healthBody(node)).toMatchObject({ status: 'ok', version: live });
    expect((await node.worker()).cwd).toBe(join(node.releasesDir, live));
    expect((await stat(join(node.root, 'etc/sluice/release.env'))).isFile()).toBe(true);
    expect(await readFile(join(node.root, 'etc/sluice/release.env'), 'utf8')).toBe(`SLUICE_VERSION=${live}\n`);
  });
});

function collect(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.once('error', reject);
    child.once('exit', () => resolve(text));
  });
}
