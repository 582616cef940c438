import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../../lib/runtime/clock.ts';
import { runCli } from '../../../../lib/runtime/release/cli/run-cli.ts';
import { startAll } from '../../../../lib/runtime/release/local/local-process-installer.ts';
import { type LocalHaproxy, requireHaproxy, startHaproxy } from '../../../helpers/haproxy.ts';
import { startLoad } from '../../../helpers/load-generator.ts';
import { createLocalFleet, httpGet, type LocalFleet } from '../../../helpers/local-fleet.ts';
import { projectRoot } from '../../../helpers/run-cdk.ts';

// Zero downtime, proven through a real load balancer: whole releases of three local services behind
// a real HAProxy while keep-alive clients send requests the whole time.

const available = requireHaproxy();
const backend = 'app';

interface StatSample {
  readonly at: number;
  readonly server: string;
  readonly status: string;
  readonly sessions: number;
}

/** Samples HAProxy's own `show stat` every 20 ms, so assertions rest on what HAProxy saw. */
function monitorStats(haproxy: LocalHaproxy): { samples: StatSample[]; stop(): Promise<void> } {
  const samples: StatSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      for (const row of await haproxy.api.showStat(backend).catch(() => [])) {
        if (row.svname !== 'BACKEND' && row.svname !== 'FRONTEND') samples.push({ at, server: row.svname, status: row.status, sessions: row.scur });
      }
      await sleep(20);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** When each service got SIGTERM, from its own log (`<ISO time> stopping version=… port=…`). */
async function stopTimes(fleet: LocalFleet, since: number): Promise<{ server: string; at: number }[]> {
  const stops: { server: string; at: number }[] = [];
  for (const target of fleet.config.targets) {
    const log = await readFile(join(fleet.config.stateDir, `${target.name}.log`), 'utf8').catch(() => '');
    for (const match of log.matchAll(/^(\S+) stopping version=/gm)) {
      const at = Date.parse(match[1]);
      if (at >= since) stops.push({ server: target.name, at });
    }
  }
  return stops;
}

/**
 * Every stop happened while HAProxy had the server out of rotation with no session left: the first
 * sample after the service logged "stopping" shows MAINT and 0 sessions (a server stays in MAINT
 * until the new version is up, hundreds of milliseconds later, so that sample cannot miss it).
 */
function expectDrainedBeforeStopped(samples: readonly StatSample[], stops: readonly { server: string; at: number }[]): void {
  expect(stops.length).toBeGreaterThan(0);
  for (const stop of stops) {
    const after = samples.find((sample) => sample.server === stop.server && sample.at >= stop.at);
    expect(after, `no HAProxy sample of ${stop.server} after it stopped`).toBeDefined();
    expect({ server: stop.server, status: after?.status, sessions: after?.sessions }).toEqual({ server: stop.server, status: 'MAINT', sessions: 0 });
  }
}

async function versions(fleet: LocalFleet): Promise<string[]> {
  return Promise.all(fleet.config.targets.map(async (target) => JSON.parse((await httpGet(target.port, '/health')).body).version as string));
}

describe.skipIf(!available)('zero-downtime releases through a real HAProxy', () => {
  let fleet: LocalFleet;
  let haproxy: LocalHaproxy;
  let socket: string;
  const children: ChildProcess[] = [];

  const cli = (...argv: string[]) => {
    const output: string[] = [];
    const run = runCli([...argv, '--haproxy-socket', socket, '--backend', backend, '--local-targets', fleet.targetsFile, '--check-interval', '100ms'], {
      clients: () => {
        throw new Error('HAProxy mode must not build AWS clients');
      },
      clock: systemClock,
      env: {},
      stdout: (line) => output.push(line),
      stderr: (line) => output.push(line),
      appendSummary: async () => undefined,
    });
    return run.then((code) => ({ code, output }));
  };

  beforeAll(async () => {
    fleet = await createLocalFleet({ targets: 3, versions: { '1.0.0': true, '2.0.0': true, '3.0.0': true, '4.0.0-bad': false } });
    await startAll(fleet.config, '1.0.0');
    haproxy = await startHaproxy({ backend, servers: fleet.config.targets.map((target) => ({ name: target.name, port: target.port })), checkIntervalMs: 100, rise: 2, fall: 2 });
    socket = haproxy.socketPath;
    for (const target of fleet.config.targets) await haproxy.waitForStatus(target.name, /^UP/);
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await haproxy?.stop();
    await fleet?.cleanup();
  });

  it('releases under load with 0 failed requests, draining each instance before stopping it', async () => {
    const since = Date.now();
    const monitor = monitorStats(haproxy);
    const load = startLoad({ port: haproxy.frontendPort, concurrency: 8 });
    const { code, output } = await cli('release', '2.0.0');
    const result = await load.stop();
    await monitor.stop();

    expect(code, output.join('\n')).toBe(0);
    expect(result.failures).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.requests).toBeGreaterThan(100);
    expect(Object.keys(result.served).sort()).toEqual(['hello from 1.0.0', 'hello from 2.0.0']);
    expect(await versions(fleet)).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expectDrainedBeforeStopped(monitor.samples, await stopTimes(fleet, since));
    const rows = await haproxy.api.showStat(backend);
    expect(rows.filter((row) => row.svname.startsWith('app')).map((row) => row.status)).toEqual(['UP', 'UP', 'UP']);
  });

  it('rolls a bad version back under load with 0 failed requests', async () => {
    const load = startLoad({ port: haproxy.frontendPort, concurrency: 8 });
    const { code, output } = await cli('release', '4.0.0-bad');
    const result = await load.stop();

    expect(code, output.join('\n')).toBe(1);
    expect(output.join('\n')).toMatch(/Install\.NeverHealthy|HAProxy\./);
    expect(result.failures).toEqual([]);
    expect(result.failed).toBe(0);
    expect(await versions(fleet)).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    const rows = await haproxy.api.showStat(backend);
    expect(rows.filter((row) => row.svname.startsWith('app')).map((row) => row.status)).toEqual(['UP', 'UP', 'UP']);
  });

  it('recovers when the CLI is killed mid-release: rerun leaves no server in drain or maintenance', async () => {
    const monitor = monitorStats(haproxy);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bin/sluice.ts', 'release', '3.0.0', '--lock-ttl', '3s',
        '--haproxy-socket', socket, '--backend', backend, '--local-targets', fleet.targetsFile, '--check-interval', '100ms'],
      { cwd: projectRoot, stdio: 'ignore' },
    );
    children.push(child);
    // Kill it the moment HAProxy shows a server out of rotation.
    const deadline = Date.now() + 30_000;
    while (!monitor.samples.some((sample) => /^(DRAIN|MAINT)/.test(sample.status)) && Date.now() < deadline) await sleep(10);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await sleep(300);
    const leftOut = (await haproxy.api.showStat(backend)).filter((row) => /^(DRAIN|MAINT)/.test(row.status));
    expect(leftOut.length).toBe(1);

    const load = startLoad({ port: haproxy.frontendPort, concurrency: 8 });
    const { code, output } = await cli('release', '3.0.0', '--lock-ttl', '3s');
    const result = await load.stop();
    await monitor.stop();

    expect(code, output.join('\n')).toBe(0);
    expect(output.join('\n')).toMatch(/interrupted; repairing 1 target/);
    expect(result.failed).toBe(0);
    expect(await versions(fleet)).toEqual(['3.0.0', '3.0.0', '3.0.0']);
    const rows = await haproxy.api.showStat(backend);
    expect(rows.filter((row) => row.svname.startsWith('app')).map((row) => row.status)).toEqual(['UP', 'UP', 'UP']);
  });
});
