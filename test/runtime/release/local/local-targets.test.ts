import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { LocalInstanceGuard } from '../../../../lib/runtime/release/local/local-instance-guard.ts';
import { loadLocalTargets, parseLocalTargets } from '../../../../lib/runtime/release/local/local-targets.ts';
import { NoAlarmGate } from '../../../../lib/runtime/release/local/no-alarm-gate.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-targets-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local targets file', () => {
  it('resolves releasesDir and stateDir against its own directory and fills in the defaults', async () => {
    const file = join(dir, 'targets.json');
    await writeFile(file, JSON.stringify({
      releasesDir: 'releases',
      stateDir: '/var/lib/sluice',
      command: ['node', 'server.mjs'],
      targets: [{ name: 'app1', port: 18081 }, { name: 'app2', port: 18082 }],
    }));

    expect(await loadLocalTargets(file)).toEqual({
      releasesDir: join(dir, 'releases'),
      stateDir: '/var/lib/sluice',
      command: ['node', 'server.mjs'],
      healthPath: '/health',
      stopTimeoutMs: 10_000,
      startTimeoutMs: 10_000,
      targets: [{ name: 'app1', port: 18081 }, { name: 'app2', port: 18082 }],
    });
  });

  it('lists every problem at once, each with what to do', () => {
    const parse = () =>
      parseLocalTargets(
        {
          stateDir: 7,
          command: [],
          healthPath: 'health',
          stopTimeoutMs: -1,
          startTimeout: 5,
          targets: [{ name: 'app1', port: 18081 }, { name: 'app1', port: 70_000 }, { name: '../x', port: 18081, weight: 2 }],
        },
        '/etc/sluice/targets.json',
      );

    expect(parse).toThrow(BadInputError);
    expect(parse).toThrow(
      [
        'local targets file /etc/sluice/targets.json is not valid:',
        '  - unknown field startTimeout: remove it (known fields: releasesDir, stateDir, command, healthPath, stopTimeoutMs, startTimeoutMs, targets)',
        '  - releasesDir is missing: set it to the directory that holds one directory per version',
        '  - stateDir must be a path: a writable directory for pid files, logs and the release state (given 7)',
        '  - command must be a non-empty array of strings, the service\'s argv with no shell, e.g. ["node", "server.mjs"] (given [])',
        '  - healthPath must be a URL path starting with "/" (given "health")',
        '  - stopTimeoutMs must be a whole number of milliseconds between 0 and 3600000 (given -1)',
        '  - targets[1].name app1 is used twice: give each target its own name',
        '  - targets[1].port must be a whole number between 1 and 65535 (given 70000)',
        '  - targets[2] has an unknown field weight: remove it (a target has name and port)',
        '  - targets[2].name must be the HAProxy server name: 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit (given "../x")',
        '  - targets[2].port 18081 is used twice: give each target its own port',
      ].join('\n'),
    );
  });

  it('says how to fix a file that is missing or not JSON', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "targets": [ }');

    await expect(loadLocalTargets(join(dir, 'missing.json'))).rejects.toThrow(
      `local targets file ${join(dir, 'missing.json')} not found: pass --local-targets with the path of an existing file`,
    );
    await expect(loadLocalTargets(broken)).rejects.toThrow(new RegExp(`^local targets file ${broken} is not valid JSON \\(.+\\): fix its syntax$`));
    expect(() => parseLocalTargets([], '/t.json')).toThrow('local targets file /t.json must hold a JSON object with releasesDir, stateDir, command and targets');
  });
});

describe('LocalInstanceGuard and NoAlarmGate', () => {
  it('keep the launch version in the state directory and never hold, terminate or alarm', async () => {
    const guard = new LocalInstanceGuard({ stateDir: join(dir, 'guard-state') });

    expect(await guard.launchVersion()).toBeUndefined();
    await guard.setLaunchVersion('v2');
    expect(await guard.launchVersion()).toBe('v2');
    expect(await new LocalInstanceGuard({ stateDir: join(dir, 'guard-state') }).launchVersion()).toBe('v2');
    await expect(guard.hold()).resolves.toBeUndefined();
    await expect(guard.release()).resolves.toBeUndefined();
    expect(await guard.isTerminated()).toBe(false);
    expect(await new NoAlarmGate().firingAlarms()).toEqual([]);
  });
});
