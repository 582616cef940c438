// A real PostgreSQL server for the tests and the sandbox (Debian's `postgresql` package): `initdb` into a temporary
// directory, `postgres` on a free loopback port with its unix socket in that directory, stopped
// (and the directory removed) by stop() or, at the latest, when the test process exits. Durability
// is switched off (fsync, full-page writes): the data lives for one test file.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { captureOutput, stopChildProcess } from './child-process.ts';
import { freePort } from './free-port.ts';

export interface LocalPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication on loopback). */
  readonly url: string;
  readonly port: number;
  /** The data directory (and the unix socket's directory). */
  readonly directory: string;
  /** Creates an empty database and returns its connection string. */
  createDatabase(name?: string): Promise<string>;
  /** What the server printed so far, to explain a failure. */
  output(): string;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Extra `-c name=value` settings, e.g. { ssl: 'on', ssl_cert_file: … }. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Files to write into the data directory before the server starts (certificates, keys), mode 0600. */
  readonly files?: Readonly<Record<string, string>>;
  /** Added to the server's environment (the sandbox marks its processes so). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The directory holding `initdb` and `postgres`: on PATH, else the newest of Debian's
 * /usr/lib/postgresql/<version>/bin (the package does not put the server binaries on PATH).
 */
export function postgresBinDirectory(): string | undefined {
  const executable = (directory: string) => {
    try {
      accessSync(join(directory, 'initdb'), constants.X_OK);
      accessSync(join(directory, 'postgres'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  let debian: string[] = [];
  try {
    debian = readdirSync('/usr/lib/postgresql')
      .filter((version) => /^\d+$/.test(version))
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => `/usr/lib/postgresql/${version}/bin`);
  } catch {
    // No Debian package installed.
  }
  return [...onPath, ...debian].find(executable);
}

/**
 * PostgreSQL refuses to run as root. As root (CI, containers) the cluster belongs to the package's
 * `postgres` user, else to `nobody`; any other user runs it as itself.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      // `id` is the portable way to look a user up; node:os has no getpwnam.
      const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()));
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid: uid!, gid: gid! };
    } catch {
      // No such user: try the next one.
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to own the test cluster');
}

/** Starts a cluster on a free loopback port; resolves once it accepts connections. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<LocalPostgres> {
  const bin = postgresBinDirectory();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const owner = serverUser();
  const directory = await mkdtemp(join(tmpdir(), 'sluice-postgres-'));
  if (owner) chownSync(directory, owner.uid, owner.gid);
  const data = join(directory, 'data');
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  try {
    await promisify(execFile)(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], { ...asOwner, env: { PATH: process.env.PATH, LC_ALL: 'C' } });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
  }
  for (const [name, content] of Object.entries(options.files ?? {})) {
    writeFileSync(join(data, name), content, { mode: 0o600 });
    if (owner) chownSync(join(data, name), owner.uid, owner.gid);
  }

  // postgres cannot bind port 0 and report it, so pick a free one; another process may take it first.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const settings = { listen_addresses: '127.0.0.1', port: String(port), unix_socket_directories: directory, fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off', max_connections: '50', ...options.settings };
    const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
    const child = spawn(join(bin, 'postgres'), args, { ...asOwner, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, LC_ALL: 'C', ...options.environment } });
    const server = await whenReady(child, port).catch(async (error: unknown) => {
      await rm(directory, { recursive: true, force: true });
      throw error;
    });
    if (server === 'address-in-use') {
      if (attempt < 5) continue;
      await rm(directory, { recursive: true, force: true });
      throw new Error(`postgres could not bind a free port in ${attempt} attempts`);
    }
    return running(child, server.output, port, directory);
  }
}

async function whenReady(child: ChildProcess, port: number): Promise<{ output: { text: string } } | 'address-in-use'> {
  const output = captureOutput(child);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) {
      if (/could not bind|Address already in use/.test(output.text)) return 'address-in-use';
      throw new Error(`postgres exited (code ${exitCode}) before it accepted connections:\n${output.text}`);
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return { output };
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`postgres did not accept connections within 30 s:\n${output.text}`);
    }
    await sleep(50);
  }
}

function running(child: ChildProcess, output: { text: string }, port: number, directory: string): LocalPostgres {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // Never outlive the test process, even when a test forgets stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let databases = 0;
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    directory,
    output: () => output.text,
    async createDatabase(name = `test_${process.pid}_${(databases += 1)}`) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      stopping ??= (async () => {
        process.off('exit', killOnExit);
        // SIGINT is postgres's "fast" shutdown: open sessions are ended, no checkpoint wait.
        await stopChildProcess(child, exited, 'SIGINT', 5000);
        await rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
