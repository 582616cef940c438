import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError } from '../../../lib/runtime/release/errors.ts';
import { packageRelease } from '../../../lib/runtime/release/package-release.ts';
import { requiredMigration } from '../../../lib/runtime/release/required-migration.ts';
import { freePort } from '../../helpers/haproxy.ts';
import { httpGet } from '../../helpers/local-fleet.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';

const run = promisify(execFile);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('npm run package -- <version>', () => {
  const commit = 'c0ffee0000000000000000000000000000000001';
  let outDir: string;
  let stdout: string;
  let releaseDir: string;
  let startedAt: number;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'sluice-artifact-'));
    startedAt = Date.now();
    // The command a user (or CI, which sets GITHUB_SHA) runs.
    ({ stdout } = await run('npm', ['run', '--silent', 'package', '--', '1.2.3', outDir], { cwd: projectRoot, env: { ...process.env, GITHUB_SHA: commit } }));
    // Unpacked as sluice-install does.
    releaseDir = await mkdtemp(join(tmpdir(), 'sluice-release-'));
    await run('tar', ['-xzf', join(outDir, 'releases', '1.2.3.tgz'), '-C', releaseDir]);
  }, 60_000);

  it('writes releases/<version>.tgz and a <version>.tgz.sha256 beside it that sha256sum -c accepts', async () => {
    expect((await readdir(join(outDir, 'releases'))).sort()).toEqual(['1.2.3.tgz', '1.2.3.tgz.sha256']);
    const checksum = await readFile(join(outDir, 'releases', '1.2.3.tgz.sha256'), 'utf8');
    expect(checksum).toBe(`${sha256(await readFile(join(outDir, 'releases', '1.2.3.tgz')))}  1.2.3.tgz\n`);
    const { stdout: verified } = await run('sha256sum', ['-c', '1.2.3.tgz.sha256'], { cwd: join(outDir, 'releases') });
    expect(verified).toBe('1.2.3.tgz: OK\n');
  });

  it("prints the artifact's size and the upload commands for both files", async () => {
    const { size } = await stat(join(outDir, 'releases', '1.2.3.tgz'));
    expect(stdout).toContain(`${join(outDir, 'releases', '1.2.3.tgz')} (`);
    expect(stdout).toContain(`${size} bytes`);
    expect(stdout).toContain('s3://<ArtifactBucketName>/releases/1.2.3.tgz\n');
    expect(stdout).toContain('s3://<ArtifactBucketName>/releases/1.2.3.tgz.sha256\n');
  });

  it('holds the two bundles, their source maps, release.json and a manifest whose checksums match the files', async () => {
    expect((await readdir(releaseDir)).sort()).toEqual(['manifest.json', 'release.json', 'server.mjs', 'server.mjs.map', 'worker.mjs', 'worker.mjs.map']);
    const manifest = JSON.parse(await readFile(join(releaseDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ version: '1.2.3', commit, nodeTarget: 'node22' });
    expect(Date.parse(manifest.builtAt)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(Date.parse(manifest.builtAt)).toBeLessThanOrEqual(Date.now());
    const unpacked = await Promise.all(
      ['release.json', 'server.mjs', 'server.mjs.map', 'worker.mjs', 'worker.mjs.map'].map(async (path) => {
        const bytes = await readFile(join(releaseDir, path));
        return { path, size: bytes.length, sha256: sha256(bytes) };
      }),
    );
    expect(manifest.files).toEqual(unpacked);
  });

  it('is minified, and its source maps point stack traces at the TypeScript sources under --enable-source-maps', async () => {
    const server = await readFile(join(releaseDir, 'server.mjs'), 'utf8');
    // Minified code is a few very long lines; the only line breaks left are inside the bundled SDK's
    // template literals. Formatted code averages well under 100 characters a line.
    const lines = server.trimEnd().split('\n');
    expect(server.length / lines.length).toBeGreaterThan(1000);
    expect(server.trimEnd().endsWith('//# sourceMappingURL=server.mjs.map')).toBe(true);

    // An invalid port makes the app throw from its own code at start-up.
    const crash = (flags: string[]) =>
      run(process.execPath, [...flags, 'server.mjs'], { cwd: releaseDir, env: { PATH: process.env.PATH, APP_PORT: '-1', WORK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/work', EVENT_STREAM_NAME: 'events' } }).then(
        () => '',
        (error: { stderr: string }) => error.stderr,
      );
    const mapped = await crash(['--enable-source-maps']);
    expect(mapped).toMatch(new RegExp(`at .*\\(${releaseDir}/(bin|lib/runtime/app)/[\\w-]+\\.ts:\\d+:\\d+\\)`));
    expect(mapped).not.toContain('server.mjs:');
    // Without the flag the same trace names only the bundle: the services need it.
    expect(await crash([])).toMatch(/server\.mjs:\d+:\d+/);
  });

  it('runs server.mjs and worker.mjs on their own, with the environment systemd gives them', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, ['--enable-source-maps', 'server.mjs'], { cwd: releaseDir, env: {
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
    const worker = spawn(process.execPath, ['--enable-source-maps', 'worker.mjs'], { cwd: releaseDir, env: { PATH: process.env.PATH } });
    children.push(worker);
    const [workerCode] = await once(worker, 'exit');
    expect(workerCode).toBe(0);
  });
});

describe('packageRelease', () => {
  it("records the checkout's HEAD as the commit when GITHUB_SHA is not set, and the highest migration script as requiredMigration", async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'sluice-artifact-'));
    const migrationsDirectory = await mkdtemp(join(tmpdir(), 'sluice-migrations-'));
    for (const name of ['0000_baseline.sql', '0001_jobs.sql', '0003_processed_jobs.sql', '0002_status.sql']) await writeFile(join(migrationsDirectory, name), 'SELECT 1;\n');
    const packaged = await packageRelease({ version: 'local-1', projectRoot, outDir, env: {}, migrationsDirectory });
    expect(packaged.manifest.requiredMigration).toBe(3);
    const releaseDir = await mkdtemp(join(tmpdir(), 'sluice-release-'));
    await run('tar', ['-xzf', packaged.artifact, '-C', releaseDir, 'manifest.json']);
    expect(JSON.parse(await readFile(join(releaseDir, 'manifest.json'), 'utf8')).requiredMigration).toBe(3);
    const { stdout: head } = await run('git', ['rev-parse', 'HEAD'], { cwd: projectRoot });
    expect(packaged.manifest.commit).toBe(head.trim());
    expect(packaged.artifact).toBe(join(outDir, 'releases', 'local-1.tgz'));
    expect(packaged.size).toBe((await stat(packaged.artifact)).size);
  }, 60_000);

  it('refuses a version that could not be installed', async () => {
    await expect(packageRelease({ version: '../x', projectRoot, outDir: tmpdir() })).rejects.toBeInstanceOf(BadInputError);
  });
});

describe('requiredMigration', () => {
  const folderWith = async (names: readonly string[]) => {
    const directory = await mkdtemp(join(tmpdir(), 'sluice-migrations-'));
    for (const name of names) await writeFile(join(directory, name), 'SELECT 1;\n');
    return directory;
  };

  it('is the highest script number of the folder', async () => {
    expect(await requiredMigration(await folderWith(['0000_baseline.sql', '0001_jobs.sql', '0012_index.sql', '0002_status.sql']))).toBe(12);
  });

  it('is 0 for a missing or empty folder, or the baseline alone', async () => {
    expect(await requiredMigration(join(tmpdir(), 'sluice-no-such-folder'))).toBe(0);
    expect(await requiredMigration(await folderWith([]))).toBe(0);
    expect(await requiredMigration(await folderWith(['0000_baseline.sql']))).toBe(0);
  });

  it('counts only SQL scripts named <number>_<name>.sql', async () => {
    expect(await requiredMigration(await folderWith(['0000_baseline.sql', '0001_jobs.sql', '0009_notes.md', 'README.md', '9999.sql']))).toBe(1);
  });
});
