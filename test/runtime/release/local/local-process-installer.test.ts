import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../../lib/runtime/clock.ts';
import { InstallFailedError } from '../../../../lib/runtime/release/errors.ts';
import { LocalInstanceGuard } from '../../../../lib/runtime/release/local/local-instance-guard.ts';
import { LocalProcessInstaller, startAll } from '../../../../lib/runtime/release/local/local-process-installer.ts';
import { createLocalFleet, httpGet, killQuietly, type LocalFleet, type LocalFleetOptions } from '../../../helpers/local-fleet.ts';

const INSTALL = { timeoutMs: 30_000 };

let fleet: LocalFleet | undefined;
const strangers: ChildProcess[] = [];

afterEach(async () => {
  for (const child of strangers.splice(0)) if (child.pid !== undefined) killQuietly(child.pid);
  await fleet?.cleanup();
  fleet = undefined;
});

async function setUp(options: LocalFleetOptions = {}): Promise<{ fleet: LocalFleet; installer: LocalProcessInstaller; port: (name: string) => number }> {
  fleet = await createLocalFleet(options);
  const { config } = fleet;
  const installer = new LocalProcessInstaller({ ...config, clock: systemClock });
  return { fleet, installer, port: (name) => config.targets.find((target) => target.name === name)!.port };
}

function stateFile(name: string): string {
  return join(fleet!.config.stateDir, name);
}

async function recordedPid(target: string): Promise<number> {
  return Number((await readFile(stateFile(`${target}.pid`), 'utf8')).trim());
}

/** Gone for good: a killed child stays a zombie (and "alive" to kill 0) until this process reaps it, which can lag under load. */
async function expectExited(pid: number): Promise<void> {
  await waitUntil(async () => !isAlive(pid));
  expect(isAlive(pid)).toBe(false);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process that is not a service of the fleet: node running `script`. */
function startStranger(script: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: { ...process.env, ...env } });
  strangers.push(child);
  return child;
}

describe('LocalProcessInstaller', () => {
  it('switches a target to another version and reports the version its health check answers with', async () => {
    const { installer, port } = await setUp();
    await startAll(fleet!.config, 'v1');
    const [oldPid, otherPid] = [await recordedPid('app1'), await recordedPid('app2')];

    const result = await installer.install('app1', 'v2', INSTALL);

    expect(result).toEqual({ reportedVersion: 'v2' });
    expect(await installer.installedVersion('app1')).toBe('v2');
    expect(JSON.parse((await httpGet(port('app1'), '/health')).body)).toEqual({ status: 'ok', version: 'v2' });
    await expectExited(oldPid);
    expect(await recordedPid('app1')).not.toBe(oldPid);
    expect((await readFile(stateFile('app1.version'), 'utf8')).trim()).toBe('v2');
    // The other target is left alone, and the fleet's launch version is what startAll put on it.
    expect(await recordedPid('app2')).toBe(otherPid);
    expect(await installer.installedVersion('app2')).toBe('v1');
    expect(await new LocalInstanceGuard({ stateDir: fleet!.config.stateDir }).launchVersion()).toBe('v1');
  });

  it('lets a request in flight on the old version finish before the new version starts', async () => {
    const { installer, port } = await setUp({ targets: 1 });
    await startAll(fleet!.config, 'v1');
    const inFlight = httpGet(port('app1'), '/checkout?delay=600').then((answer) => ({ ...answer, at: Date.now() }));
    await new Promise((resolve) => setTimeout(resolve, 150));

    await installer.install('app1', 'v2', INSTALL);
    const installedAt = Date.now();

    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 200, body: 'hello from v1' });
    expect(answer.at).toBeLessThanOrEqual(installedAt);
    const log = await readFile(stateFile('app1.log'), 'utf8');
    const events = log.split('\n').map((line) => line.split(' ').slice(1, 3).join(' '));
    expect(events.indexOf('stopping version=v1')).toBeGreaterThan(-1);
    expect(events.indexOf('stopped version=v1')).toBeGreaterThan(events.indexOf('stopping version=v1'));
    expect(events.indexOf('started version=v2')).toBeGreaterThan(events.indexOf('stopped version=v1'));
  });

  it('stops a version that never turns healthy and fails with its log, leaving the port to the rollback', async () => {
    const { installer, port } = await setUp({ targets: 1, startTimeoutMs: 800 });
    await startAll(fleet!.config, 'v1');

    const failure = await installer.install('app1', 'bad', INSTALL).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(InstallFailedError);
    expect(failure).toMatchObject({ targetId: 'app1', version: 'bad', reasonCode: 'Install.NeverHealthy' });
    const { message, outputTail } = failure as InstallFailedError;
    expect(message).toMatch(/did not report healthy on version bad at http:\/\/127\.0\.0\.1:\d+\/health within 800 ms \(last answer: 503 \{"status":"unhealthy","version":"bad"\}\); it was stopped; its log follows\):\n/);
    expect(outputTail).toMatch(/sluice: starting bad for app1/);
    expect(outputTail).toMatch(/started version=bad/);
    expect(outputTail).not.toMatch(/version=v1/);
    // Nothing is left on the port: neither the bad version nor the old one.
    await expect(httpGet(port('app1'), '/health')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await installer.installedVersion('app1')).toBeUndefined();
    await expect(readFile(stateFile('app1.pid'))).rejects.toMatchObject({ code: 'ENOENT' });

    // The engine's rollback: the previous version, by the same path.
    expect(await installer.install('app1', 'v1', INSTALL)).toEqual({ reportedVersion: 'v1' });
  });

  it('refuses a version that was never unpacked, and stops nothing', async () => {
    const { installer } = await setUp({ targets: 1 });
    await startAll(fleet!.config, 'v1');
    const pid = await recordedPid('app1');

    await expect(installer.install('app1', 'v9', INSTALL)).rejects.toMatchObject({
      name: 'InstallFailedError',
      reasonCode: 'Install.ArtifactMissing',
      message: `installing v9 on app1 failed (${join(fleet!.config.releasesDir, 'v9')} does not exist; unpack the release there first (nothing was stopped))`,
    });
    expect(isAlive(pid)).toBe(true);
    expect(await installer.installedVersion('app1')).toBe('v1');
  });

  it('kills a service that ignores SIGTERM once stopTimeoutMs has passed', async () => {
    const stubborn = [
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));",
      "require('node:http').createServer((req, res) => res.end(JSON.stringify({ version: process.env.SLUICE_VERSION })))",
      ".listen(Number(process.env.PORT), '127.0.0.1');",
    ].join('');
    const { installer } = await setUp({ targets: 1, command: [process.execPath, '-e', stubborn], stopTimeoutMs: 300 });
    await startAll(fleet!.config, 'v1');
    const oldPid = await recordedPid('app1');

    const startedAt = Date.now();
    await installer.install('app1', 'v2', INSTALL);

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    await expectExited(oldPid);
    expect(await installer.installedVersion('app1')).toBe('v2');
    const log = await readFile(stateFile('app1.log'), 'utf8');
    expect(log).toContain('ignoring SIGTERM');
    expect(log).toContain(`pid ${oldPid} did not exit within 300 ms of SIGTERM: SIGKILL`);
  });

  it('never signals a process that only reuses the pid a pid file names', async () => {
    const { installer } = await setUp({ targets: 1 });
    // Looks like the target's service to anything but its start environment.
    const stranger = startStranger('setInterval(() => {}, 1000)', { SLUICE_TARGET: 'app1' });
    await mkdir(fleet!.config.stateDir, { recursive: true });
    await writeFile(stateFile('app1.pid'), `${stranger.pid}\n`);

    await installer.install('app1', 'v1', INSTALL);

    expect(isAlive(stranger.pid!)).toBe(true);
    expect(await recordedPid('app1')).not.toBe(stranger.pid);
    expect(await readFile(stateFile('app1.log'), 'utf8')).toContain(`forgetting pid file ${stateFile('app1.pid')} (${stranger.pid})`);
  });

  it('refuses to start next to a process it did not start that holds the port', async () => {
    const { installer, port } = await setUp({ targets: 1 });
    const squatter = startStranger(`require('node:http').createServer((q, s) => s.end('squatting')).listen(${port('app1')}, '127.0.0.1')`);
    await waitUntil(async () => (await httpGet(port('app1'), '/').catch(() => undefined))?.body === 'squatting');

    await expect(installer.install('app1', 'v1', INSTALL)).rejects.toMatchObject({
      reasonCode: 'Install.PortInUse',
      message: expect.stringMatching(/port \d+ is still taken although app1's process is stopped/),
    });
    expect(isAlive(squatter.pid!)).toBe(true);
  });

  it('leaves services running when the process that started them is killed', async () => {
    const { port } = await setUp();
    const moduleUrl = new URL('../../../../lib/runtime/release/local/local-process-installer.ts', import.meta.url).href;
    const starter = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `const { startAll } = await import(${JSON.stringify(moduleUrl)});
        await startAll(JSON.parse(process.env.FLEET), 'v1');
        console.log('ready');
        setInterval(() => {}, 1000);`],
      { env: { ...process.env, FLEET: JSON.stringify(fleet!.config) }, stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../../../..', import.meta.url)) },
    );
    strangers.push(starter);
    let output = '';
    starter.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil(async () => output.includes('ready'), 20_000);

    starter.kill('SIGKILL');
    await new Promise((resolve) => starter.once('exit', resolve));

    for (const name of ['app1', 'app2']) {
      expect(JSON.parse((await httpGet(port(name), '/health')).body)).toEqual({ status: 'ok', version: 'v1' });
    }
  });

  it('knows no version for a target that is not running or not in the file', async () => {
    const { installer } = await setUp({ targets: 1 });

    expect(await installer.installedVersion('app1')).toBeUndefined();
    expect(await installer.installedVersion('app7')).toBeUndefined();
    await expect(installer.install('app7', 'v1', INSTALL)).rejects.toMatchObject({ reasonCode: 'Install.UnknownTarget' });
    await expect(installer.install('app1', '../v1', INSTALL)).rejects.toMatchObject({ name: 'BadInputError' });
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
