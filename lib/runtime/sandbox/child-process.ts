// What the helpers that run a server binary for the tests (HAProxy, PostgreSQL) share: the tail of
// its output, to explain a failure, and a stop that signals, waits a bounded time, then kills.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The last 64 KiB a child wrote to stdout and stderr: the tail is what explains a failure. */
export function captureOutput(child: ChildProcess): { text: string } {
  const output = { text: '' };
  const append = (chunk: Buffer) => {
    output.text = (output.text + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return output;
}

/** Sends `signal`, waits up to `graceMs` for `exited`, then SIGKILLs and waits for it. */
export async function stopChildProcess(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  child.kill(signal);
  const stopped = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}
