// Installs a version on a local service: the release's counterpart of `sluice-install` on an instance.
// The engine calls it for a target HAProxy has already drained; per target it keeps, in stateDir:
//
//   <name>.pid      the running service's pid (its process group: it is started detached)
//   <name>.version  the version it was switched to
//   <name>.log      its stdout and stderr, appended, with a line from sluice at every start and stop
//
// Services are started detached and unreferenced so that they outlive the CLI: a release killed with
// SIGKILL leaves them serving, and the rerun finds them by their pid files. A pid file can outlive
// its process and the pid be reused; before signalling a pid, the installer checks (on Linux, from
// /proc/<pid>/environ) that the process carries the SLUICE_TARGET and SLUICE_STATE_DIR it was started
// with, and otherwise forgets the pid instead of stopping a stranger. Where there is no /proc, it trusts
// the pid file.
//
// A version that does not report healthy within startTimeoutMs is stopped again and the install
// fails with Install.NeverHealthy and the tail of its log. The port is the target's, so nothing else
// can run there meanwhile: the previous version was stopped before the new one started, and the
// engine rolls back by installing the previous version, by the same path.

import { spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { assertReleaseVersion } from '../release-version.ts';
import { type Clock, systemClock } from '../../clock.ts';
import { InstallFailedError, ReleaseError } from '../errors.ts';
import { versionFromHealthBody } from '../health-body.ts';
import type { InstallOptions, InstallResult, Installer } from '../ports.ts';
import { LocalInstanceGuard } from './local-instance-guard.ts';
import { processExists, signalProcessGroup, startEnvironment, waitForExit } from './local-process.ts';
import type { LocalTarget, LocalTargetsConfig } from './local-targets.ts';
import { readFileIfExists, writeFileAtomically } from './state-files.ts';

export interface LocalProcessInstallerProps extends LocalTargetsConfig {
  readonly clock: Clock;
  /** How often a starting service's health, and whether a stopping one has exited, are checked. @default 50 milliseconds */
  readonly pollIntervalMs?: number;
}

/** How long a stopped service's port may take to come free before it counts as taken by a stranger. */
const PORT_RELEASE_WAIT_MS = 3_000;

/** How many lines of a service's log an error carries. */
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 64 * 1024;
/** How long one health request may take: a service on this machine answers in milliseconds. */
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;
/** After SIGKILL a process is gone within milliseconds unless stuck in the kernel. */
const KILL_WAIT_MS = 5_000;
/** The environment that marks a process as the service of one target of one state directory. */
const TARGET_VARIABLE = 'SLUICE_TARGET';
const STATE_DIR_VARIABLE = 'SLUICE_STATE_DIR';

/** Restarts local services on another version: stop gracefully, switch, start detached, wait healthy. */
export class LocalProcessInstaller implements Installer {
  private readonly config: LocalTargetsConfig;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;

  constructor(props: LocalProcessInstallerProps) {
    const { clock, pollIntervalMs, ...config } = props;
    this.config = config;
    this.clock = clock;
    this.pollIntervalMs = pollIntervalMs ?? 50;
  }

  async install(targetId: string, version: string, options: InstallOptions): Promise<InstallResult> {
    assertReleaseVersion(version);
    const target = this.target(targetId);
    if (!target) {
      throw new InstallFailedError(targetId, version, '', 'Install.UnknownTarget', `no target named ${targetId} in the local targets file; add it there, or remove the server from the HAProxy backend`);
    }
    const versionDir = join(this.config.releasesDir, version);
    if (!(await isDirectory(versionDir))) {
      throw new InstallFailedError(targetId, version, '', 'Install.ArtifactMissing', `${versionDir} does not exist; unpack the release there first (nothing was stopped)`);
    }
    const deadline = this.clock.now() + options.timeoutMs;

    // --- stop the running version --------------------------------------------------------------
    const running = await this.runningPid(target);
    if (running !== undefined && !(await this.stopProcess(target, running, options.signal))) {
      throw new InstallFailedError(targetId, version, await this.logTail(target, 0), 'Install.StopFailed', `process ${running} did not exit even after SIGKILL; stop it by hand, then rerun`);
    }
    await rm(this.file(target, 'pid'), { force: true });
    if (running !== undefined) {
      // A process just killed can hold its listening socket a moment longer while the kernel tears
      // it down (longer on a busy machine): give the port a bounded moment to come free.
      const portDeadline = this.clock.now() + PORT_RELEASE_WAIT_MS;
      while ((await portAnswers(target.port)) && this.clock.now() < portDeadline) await this.clock.sleep(this.pollIntervalMs, options.signal);
    }
    if (await portAnswers(target.port)) {
      throw new InstallFailedError(
        targetId,
        version,
        '',
        'Install.PortInUse',
        `port ${target.port} is still taken although ${targetId}'s process is stopped: a process sluice did not start (or whose pid file was lost) ` +
          `listens there; stop it (\`ss -ltnp 'sport = :${target.port}'\` shows it), then rerun`,
      );
    }

    // --- switch and start the new version ------------------------------------------------------
    await writeFileAtomically(this.file(target, 'version'), `${version}\n`);
    const logOffset = await this.logSize(target);
    const pid = await this.start(target, version, versionDir);

    // --- wait until it reports healthy on its version ------------------------------------------
    const healthDeadline = Math.min(deadline, this.clock.now() + this.config.startTimeoutMs);
    const problem = await this.waitHealthy(target, version, pid, healthDeadline, options.signal);
    if (problem === undefined) return { reportedVersion: version };
    // It only holds the port: stop it, so that the rollback starts the previous version on a free port.
    const stillRunning = processExists(pid);
    if (stillRunning) await this.stopProcess(target, pid);
    await rm(this.file(target, 'pid'), { force: true });
    await rm(this.file(target, 'version'), { force: true });
    const detail = `${problem}${stillRunning ? '; it was stopped' : ''}; its log follows`;
    throw new InstallFailedError(targetId, version, await this.logTail(target, logOffset), 'Install.NeverHealthy', detail);
  }

  async installedVersion(targetId: string, signal?: AbortSignal): Promise<string | undefined> {
    const target = this.target(targetId);
    if (!target) return undefined;
    const answer = await getHealth(target.port, this.config.healthPath, signal);
    return answer?.status === 200 ? answer.version : undefined;
  }

  /** Stops the target's service gracefully (SIGTERM, SIGKILL after stopTimeoutMs); a no-op when none runs. */
  async stop(targetId: string, signal?: AbortSignal): Promise<void> {
    const target = this.target(targetId);
    if (!target) throw new ReleaseError(`no target named ${targetId} in the local targets file`, 'Local.UnknownTarget');
    const pid = await this.runningPid(target);
    if (pid !== undefined && !(await this.stopProcess(target, pid, signal))) {
      throw new ReleaseError(`${targetId}: process ${pid} did not exit even after SIGKILL; stop it by hand`, 'Local.StopFailed');
    }
    await rm(this.file(target, 'pid'), { force: true });
  }

  // --- processes -----------------------------------------------------------------------------------

  /** The pid of the target's running service; a pid file naming a gone or foreign process is removed. */
  private async runningPid(target: LocalTarget): Promise<number | undefined> {
    const text = await readFileIfExists(this.file(target, 'pid'));
    if (text === undefined) return undefined;
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 1 && processExists(pid) && this.isOurs(target, pid)) return pid;
    await this.log(target, `forgetting pid file ${this.file(target, 'pid')} (${text.trim()}): no service of this target runs under that pid`);
    await rm(this.file(target, 'pid'), { force: true });
    return undefined;
  }

  private isOurs(target: LocalTarget, pid: number): boolean {
    const environment = startEnvironment(pid);
    if (environment === undefined) return true;
    return environment.get(TARGET_VARIABLE) === target.name && environment.get(STATE_DIR_VARIABLE) === this.config.stateDir;
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs; false when the process survived even that. */
  private async stopProcess(target: LocalTarget, pid: number, signal?: AbortSignal): Promise<boolean> {
    await this.log(target, `stopping pid ${pid} (SIGTERM)`);
    signalProcessGroup(pid, 'SIGTERM');
    if (await waitForExit(pid, this.config.stopTimeoutMs, this.clock, signal, this.pollIntervalMs)) return true;
    await this.log(target, `pid ${pid} did not exit within ${this.config.stopTimeoutMs} ms of SIGTERM: SIGKILL`);
    signalProcessGroup(pid, 'SIGKILL');
    return waitForExit(pid, KILL_WAIT_MS, this.clock, signal, this.pollIntervalMs);
  }

  /** Starts the service detached, logging to its log file, and records its pid before anything else can happen. */
  private async start(target: LocalTarget, version: string, versionDir: string): Promise<number> {
    await mkdir(this.config.stateDir, { recursive: true });
    const [executable, ...args] = this.config.command;
    const logFd = openSync(this.file(target, 'log'), 'a');
    try {
      writeSync(logFd, `${new Date().toISOString()} sluice: starting ${version} for ${target.name} on port ${target.port}: ${this.config.command.join(' ')}\n`);
      const child = spawn(executable!, args, {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        cwd: versionDir,
        env: {
          ...process.env,
          PORT: String(target.port),
          SLUICE_VERSION: version,
          [TARGET_VARIABLE]: target.name,
          [STATE_DIR_VARIABLE]: this.config.stateDir,
        },
      });
      const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
      if (child.pid === undefined) {
        const error = await spawnError;
        throw new InstallFailedError(target.name, version, '', 'Install.StartFailed', `could not start ${executable} (${error.message}); check command in the local targets file`);
      }
      // Synchronously, so that no turn of the event loop (and no SIGKILL of this CLI that a test
      // aims at it) falls between starting the service and writing its pid down.
      const pidFile = this.file(target, 'pid');
      writeFileSync(`${pidFile}.tmp`, `${child.pid}\n`);
      renameSync(`${pidFile}.tmp`, pidFile);
      child.unref();
      return child.pid;
    } finally {
      closeSync(logFd);
    }
  }

  /** Undefined once the service answers 200 with `version`; otherwise why it did not before `deadline`. */
  private async waitHealthy(target: LocalTarget, version: string, pid: number, deadline: number, signal?: AbortSignal): Promise<string | undefined> {
    const url = `http://127.0.0.1:${target.port}${this.config.healthPath}`;
    const waitMs = Math.max(0, deadline - this.clock.now());
    let last = 'no answer';
    for (;;) {
      // Checked after the answer as well: an answer from a process that is gone came from someone else.
      if (!processExists(pid)) return `it exited before reporting healthy at ${url} (last answer: ${last})`;
      const answer = await getHealth(target.port, this.config.healthPath, signal);
      if (answer?.status === 200 && answer.version === version && processExists(pid)) return undefined;
      if (answer) last = `${answer.status} ${answer.body.slice(0, 200)}`;
      if (this.clock.now() >= deadline) {
        return `it did not report healthy on version ${version} at ${url} within ${waitMs} ms (last answer: ${last})`;
      }
      await this.clock.sleep(this.pollIntervalMs, signal);
    }
  }

  // --- files ---------------------------------------------------------------------------------------

  private target(targetId: string): LocalTarget | undefined {
    return this.config.targets.find((target) => target.name === targetId);
  }

  private file(target: LocalTarget, kind: 'pid' | 'version' | 'log'): string {
    return join(this.config.stateDir, `${target.name}.${kind}`);
  }

  private async log(target: LocalTarget, message: string): Promise<void> {
    await mkdir(this.config.stateDir, { recursive: true });
    const handle = await open(this.file(target, 'log'), 'a');
    try {
      await handle.write(`${new Date().toISOString()} sluice: ${message}\n`);
    } finally {
      await handle.close();
    }
  }

  private async logSize(target: LocalTarget): Promise<number> {
    return (await stat(this.file(target, 'log')).catch(() => undefined))?.size ?? 0;
  }

  /** The last lines the service logged since `offset` (its start), from at most the last 64 KiB. */
  private async logTail(target: LocalTarget, offset: number): Promise<string> {
    const handle = await open(this.file(target, 'log'), 'r').catch(() => undefined);
    if (!handle) return '';
    try {
      const { size } = await handle.stat();
      const from = Math.max(offset, size - LOG_TAIL_BYTES);
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(Math.max(0, size - from)), 0, Math.max(0, size - from), from);
      const lines = buffer.subarray(0, bytesRead).toString('utf8').trimEnd().split('\n');
      return lines.slice(-LOG_TAIL_LINES).join('\n');
    } finally {
      await handle.close();
    }
  }
}

/**
 * Starts every target on `version` (stopping what runs there), then records it as the launch
 * version: how tests and the benchmark set up a fleet before releasing to it.
 */
export async function startAll(config: LocalTargetsConfig, version: string, clock: Clock = systemClock): Promise<void> {
  const installer = new LocalProcessInstaller({ ...config, clock });
  const timeoutMs = config.stopTimeoutMs + KILL_WAIT_MS + config.startTimeoutMs;
  await settleAll(config.targets.map((target) => installer.install(target.name, version, { timeoutMs })));
  await new LocalInstanceGuard({ stateDir: config.stateDir }).setLaunchVersion(version);
}

/** Stops every target's service gracefully; each is tried even when another fails. */
export async function stopAll(config: LocalTargetsConfig, clock: Clock = systemClock): Promise<void> {
  const installer = new LocalProcessInstaller({ ...config, clock });
  await settleAll(config.targets.map((target) => installer.stop(target.name)));
}

/** Waits for every promise, then throws the first failure: no target is left mid-change. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

interface HealthAnswer {
  readonly status: number;
  readonly body: string;
  readonly version?: string;
}

/** GET the health endpoint on 127.0.0.1 over a fresh connection; undefined when nothing answers. */
function getHealth(port: number, path: string, signal?: AbortSignal): Promise<HealthAnswer | undefined> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    // No keep-alive: an open connection from the installer would hold up the service's graceful stop.
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: HEALTH_REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 64 * 1024) body += chunk;
      });
      response.on('end', () => finish({ status: response.statusCode ?? 0, body, version: versionFromHealthBody(body) }));
      response.on('error', () => finish(undefined));
    });
    const onAbort = () => request.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('timeout', () => request.destroy());
    request.on('error', () => finish(undefined));
    function finish(answer: HealthAnswer | undefined): void {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason);
      else resolve(answer);
    }
  });
}


/** Whether anything accepts connections on 127.0.0.1:port. */
function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(HEALTH_REQUEST_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
