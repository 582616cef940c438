// A real HAProxy (Debian's `haproxy` package) in front of local services: a generated config in a
// temporary directory, the process in the foreground (`-db`), its runtime API on a unix socket. The
// release tests and the sandbox both run it; every setting in the config is one the zero-downtime
// tests rely on.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureOutput, stopChildProcess } from './child-process.ts';
import { freePort } from './free-port.ts';
import { HaproxyError, HaproxyRuntimeApi, type HaproxyStatRow } from '../release/haproxy/haproxy-runtime-api.ts';

export interface HaproxyServerSpec {
  readonly name: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** @default true - health-checked with GET /health */
  readonly check?: boolean;
}

export interface StartHaproxyOptions {
  readonly backend: string;
  readonly servers: readonly HaproxyServerSpec[];
  /** @default 100 milliseconds */
  readonly checkIntervalMs?: number;
  /** @default 2 */
  readonly rise?: number;
  /** @default 2 */
  readonly fall?: number;
  /** Added to HAProxy's environment (the sandbox marks its processes so). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

export interface LocalHaproxy {
  /** The frontend on 127.0.0.1 that balances over the backend. */
  readonly frontendPort: number;
  /** The runtime API socket (`level admin`). */
  readonly socketPath: string;
  readonly api: HaproxyRuntimeApi;
  readonly pid: number;
  /** What HAProxy printed so far (servers going UP and DOWN), to explain a failure. */
  output(): string;
  /**
   * Resolves with the server's `show stat` row once its status matches (a RegExp on `status`, or a
   * test of the whole row); throws with the last status after `timeoutMs` (default 5 s).
   */
  waitForStatus(server: string, matches: RegExp | ((row: HaproxyStatRow) => boolean), timeoutMs?: number): Promise<HaproxyStatRow>;
  /** Stops HAProxy and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** The haproxy executable: on PATH, or where Debian puts it (/usr/sbin is often not on a user's PATH). */
export function haproxyBinary(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((directory) => join(directory, 'haproxy'));
  return [...onPath, '/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The generated configuration; every choice here is one the zero-downtime tests rely on. */
function haproxyConfig(options: StartHaproxyOptions, socketPath: string, frontendPort: number): string {
  const inter = options.checkIntervalMs ?? 100;
  const rise = options.rise ?? 2;
  const fall = options.fall ?? 2;
  const servers = options.servers.map(
    (server) => `  server ${server.name} 127.0.0.1:${server.port}${server.check === false ? '' : ` check inter ${inter} rise ${rise} fall ${fall}`}`,
  );
  return [
    'global',
    `  stats socket ${socketPath} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // With inter at 100 ms a check would otherwise time out after 100 ms, and a busy test machine
    // would see servers flap; a slow check is not what the tests are about.
    '  timeout check 1s',
    // A pooled idle connection the server closed while it stopped (install) fails the next request
    // sent on it, through no fault of the request: retry it, on another server.
    '  option redispatch',
    '  retries 3',
    '  retry-on conn-failure empty-response response-timeout',
    '  http-reuse safe',
    '',
    'frontend web',
    `  bind 127.0.0.1:${frontendPort}`,
    `  default_backend ${options.backend}`,
    '',
    `backend ${options.backend}`,
    '  balance roundrobin',
    '  option httpchk GET /health',
    '  http-check expect status 200',
    ...servers,
    '',
  ].join('\n');
}

/**
 * Starts a real HAProxy (foreground, `-db`) on a generated config in a temp directory and resolves
 * once its runtime API answers and every checked server has had its first health check.
 */
export async function startHaproxy(options: StartHaproxyOptions): Promise<LocalHaproxy> {
  const binary = haproxyBinary();
  if (binary === undefined) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const directory = await mkdtemp(join(tmpdir(), 'sluice-haproxy-'));
  const socketPath = join(directory, 'admin.sock');
  const configPath = join(directory, 'haproxy.cfg');
  const api = new HaproxyRuntimeApi({ socketPath, timeoutMs: 2000 });

  // HAProxy cannot report an ephemeral port, so pick a free one; another process may take it first.
  for (let attempt = 1; ; attempt += 1) {
    const frontendPort = await freePort();
    await writeFile(configPath, haproxyConfig(options, socketPath, frontendPort));
    const started = await launch(binary, configPath, api, options.environment).catch(async (error: unknown) => {
      await rm(directory, { recursive: true, force: true });
      throw error;
    });
    if (started === 'address-in-use') {
      if (attempt < 5) continue;
      await rm(directory, { recursive: true, force: true });
      throw new Error(`haproxy could not bind a free port in ${attempt} attempts`);
    }
    const handle = running(started, { backend: options.backend, frontendPort, socketPath, api, directory });
    const checked = options.servers.filter((server) => server.check !== false);
    try {
      // At start HAProxy assumes a checked server is UP until its first check (status INI).
      for (const server of checked) await handle.waitForStatus(server.name, (row) => row.check_status !== 'INI');
    } catch (error) {
      await handle.stop();
      throw error;
    }
    return handle;
  }
}

interface Launched {
  readonly child: ChildProcess;
  readonly output: { text: string };
  readonly exited: Promise<void>;
}

async function launch(binary: string, configPath: string, api: HaproxyRuntimeApi, environment: Readonly<Record<string, string>> = {}): Promise<Launched | 'address-in-use'> {
  const child = spawn(binary, ['-f', configPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...environment } });
  const output = captureOutput(child);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    });
    child.once('error', (error) => {
      output.text += `could not start ${binary}: ${error.message}\n`;
      exitCode = -1;
      resolve();
    });
  });

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exitCode !== undefined) {
      if (/Address already in use/.test(output.text)) return 'address-in-use';
      throw new Error(`haproxy exited (code ${exitCode}) before its runtime API answered:\n${output.text}`);
    }
    try {
      await api.showInfo();
      return { child, output, exited };
    } catch (error) {
      if (!(error instanceof HaproxyError) || error.reasonCode !== 'HAProxy.SocketUnavailable') throw error;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy's runtime API did not answer within 10 s:\n${output.text}`);
    }
    await sleep(10);
  }
}

function running(launched: Launched, where: { backend: string; frontendPort: number; socketPath: string; api: HaproxyRuntimeApi; directory: string }): LocalHaproxy {
  const { child, output, exited } = launched;
  // Never outlive the test process, even when a test forgets stop() or the worker exits early.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;

  const waitForStatus = async (server: string, matches: RegExp | ((row: HaproxyStatRow) => boolean), timeoutMs = 5000): Promise<HaproxyStatRow> => {
    const test = matches instanceof RegExp ? (row: HaproxyStatRow) => matches.test(row.status) : matches;
    const deadline = Date.now() + timeoutMs;
    let last: HaproxyStatRow | undefined;
    for (;;) {
      last = (await where.api.showStat(where.backend)).find((row) => row.svname === server);
      if (last && test(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`server ${server} did not reach ${matches instanceof RegExp ? `status ${matches}` : 'the awaited state'} within ${timeoutMs} ms (last: ${last ? `${last.status}, check ${last.check_status}` : 'not listed'})\n${output.text}`);
      }
      await sleep(5);
    }
  };

  return {
    frontendPort: where.frontendPort,
    socketPath: where.socketPath,
    api: where.api,
    pid: child.pid ?? -1,
    output: () => output.text,
    waitForStatus,
    stop() {
      stopping ??= (async () => {
        process.off('exit', killOnExit);
        await stopChildProcess(child, exited, 'SIGTERM', 3000);
        await rm(where.directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
