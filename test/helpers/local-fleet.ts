// A fleet of local services for release tests: a temporary directory with releases (one directory
// per version, with its release.json), a state directory, a targets file, and free ports. cleanup()
// stops every service the fleet's pid files name, gracefully and then with SIGKILL, and removes the
// directory, so that no process outlives a test even when it fails halfway.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../lib/runtime/sandbox/free-port.ts';
import { stopAll } from '../../lib/runtime/release/local/local-process-installer.ts';
import type { LocalTargetsConfig } from '../../lib/runtime/release/local/local-targets.ts';

/** The service the tests release: see its header. */
export const RELEASE_SERVICE = fileURLToPath(new URL('./release-service.mjs', import.meta.url));

export interface LocalFleetOptions {
  /** @default 2 */
  readonly targets?: number;
  /** Version → whether it is healthy. @default { v1: true, v2: true, bad: false } */
  readonly versions?: Readonly<Record<string, boolean>>;
  /** @default node release-service.mjs */
  readonly command?: readonly string[];
  /** @default 5 seconds */
  readonly stopTimeoutMs?: number;
  /** @default 5 seconds */
  readonly startTimeoutMs?: number;
}

export interface LocalFleet {
  readonly dir: string;
  readonly config: LocalTargetsConfig;
  /** The targets file, written with paths relative to it. */
  readonly targetsFile: string;
  cleanup(): Promise<void>;
}

export async function createLocalFleet(options: LocalFleetOptions = {}): Promise<LocalFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-local-'));
  const versions = options.versions ?? { v1: true, v2: true, bad: false };
  for (const [version, healthy] of Object.entries(versions)) {
    await mkdir(join(dir, 'releases', version), { recursive: true });
    await writeFile(join(dir, 'releases', version, 'release.json'), JSON.stringify({ healthy }));
  }
  const ports = await freePorts(options.targets ?? 2);
  const file = {
    releasesDir: 'releases',
    stateDir: 'state',
    command: options.command ?? [process.execPath, RELEASE_SERVICE],
    healthPath: '/health',
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
    startTimeoutMs: options.startTimeoutMs ?? 5_000,
    targets: ports.map((port, index) => ({ name: `app${index + 1}`, port })),
  };
  const targetsFile = join(dir, 'targets.json');
  await writeFile(targetsFile, JSON.stringify(file, null, 2));
  const config: LocalTargetsConfig = { ...file, releasesDir: join(dir, 'releases'), stateDir: join(dir, 'state') };
  return {
    dir,
    config,
    targetsFile,
    async cleanup() {
      await stopAll(config).catch(() => undefined);
      await killRecorded(config.stateDir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SIGKILLs every process group a pid file in `stateDir` names: the last resort of a cleanup. */
export async function killRecorded(stateDir: string): Promise<void> {
  const files = await readdir(stateDir).catch(() => [] as string[]);
  for (const file of files.filter((name) => name.endsWith('.pid'))) {
    const pid = Number((await readFile(join(stateDir, file), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 1) killQuietly(pid);
  }
}

/** SIGKILL to a process group, or the process alone; no error when it is gone. */
export function killQuietly(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already, or not a group leader.
    }
  }
}

export { freePorts };

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One GET to 127.0.0.1 on a fresh connection. */
export function httpGet(port: number, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
