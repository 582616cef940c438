// One worker process of the sandbox: the release's worker.mjs (queue processor and stream consumer,
// as systemd runs it on an instance) with the sandbox's environment. Its output goes to its log
// file, and each JSON line is handed to `onLine` as well, which is how the demo sees the events the
// stream consumer processed. Started in its own process group, so a Ctrl-C at the terminal reaches
// the sandbox alone and the sandbox stops the workers gracefully, in order.

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { stopChildProcess } from './child-process.ts';

export interface SandboxWorkerOptions {
  readonly name: string;
  /** The release directory: worker.mjs and its manifest.json. */
  readonly releaseDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** Every line the worker writes to standard output, parsed when it is JSON. */
  readonly onLine?: (line: Readonly<Record<string, unknown>>, worker: string) => void;
}

export interface SandboxWorker {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL after `graceMs`: the worker finishes its jobs and releases its leases first. */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL at once, as a crash or an instance loss would: nothing is finished or released. */
  kill(): Promise<void>;
}

export function startSandboxWorker(options: SandboxWorkerOptions): SandboxWorker {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, ['--enable-source-maps', 'worker.mjs'], {
    cwd: options.releaseDir,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log, { end: false });
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    log.write(`${line}\n`);
    if (!options.onLine || !line.startsWith('{')) return;
    try {
      options.onLine(JSON.parse(line) as Record<string, unknown>, options.name);
    } catch {
      // Not JSON after all: it is in the log.
    }
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('error', (error) => {
      log.write(`sluice sandbox: could not start the worker: ${error.message}\n`);
      resolve(-1);
    });
    child.once('close', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? -1);
    });
  });
  // The sandbox never leaves a worker behind, even when it dies of an error.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const running = () => child.exitCode === null && child.signalCode === null;

  return {
    name: options.name,
    pid: child.pid ?? -1,
    exited,
    async stop(graceMs) {
      if (running()) await stopChildProcess(child, exited, 'SIGTERM', graceMs);
    },
    async kill() {
      if (running()) await stopChildProcess(child, exited, 'SIGKILL', 0);
    },
  };
}
