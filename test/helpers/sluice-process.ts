// The real executable (bin/sluice.ts) as a child process, as `npx sluice` runs it: with the AWS
// environment removed and instance metadata disabled, so nothing a test runs can reach AWS.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from './run-cdk.ts';

export interface SluiceRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** process.env without AWS_ variables, plus what keeps the SDK from looking for an account. */
export function environmentWithoutAws(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', ...extra };
}

/** Runs `sluice <args>` to its end. */
export function runSluice(args: readonly string[], options: { readonly timeoutMs?: number; readonly env?: Readonly<Record<string, string>> } = {}): Promise<SluiceRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bin/sluice.ts', ...args], { cwd: projectRoot, env: environmentWithoutAws(options.env), timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

export interface RunningSluice {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Resolves once standard output contains `text`; throws with the output so far after `timeoutMs`, or when the process exits first. */
  waitForOutput(text: string | RegExp, timeoutMs: number): Promise<string>;
}

/** Starts a long-running `sluice <args>` (the sandbox); the test stops it. */
export function startSluice(args: readonly string[]): RunningSluice {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sluice.ts', ...args], { cwd: projectRoot, env: environmentWithoutAws(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      done = true;
      resolve(code);
    }),
  );
  // Never outlive the test process.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitForOutput(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const found = () => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      while (!found()) {
        if (done || Date.now() > deadline) throw new Error(`sluice ${args.join(' ')} ${done ? 'exited' : `did not print ${text} within ${timeoutMs} ms`}; stdout:\n${stdout}\nstderr:\n${stderr}`);
        await sleep(50);
      }
      return stdout;
    },
  };
}
