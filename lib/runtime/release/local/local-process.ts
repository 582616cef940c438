// Processes of this machine, by pid: the services a local release starts outlive the CLI that
// started them, so a later run knows them only by the pid it wrote down.

import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Clock } from '../../clock.ts';

/** Whether `pid` is a live process: not gone, and not a zombie (exited, waiting to be reaped). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A service whose parent (a killed CLI) is gone is reparented; where nothing reaps it, it lingers as a zombie.
  const state = processState(pid);
  return state !== 'Z' && state !== 'X';
}

/**
 * The environment `pid` was started with, from /proc (Linux); undefined where there is no /proc.
 * A process of another user, or one gone meanwhile, has an empty environment here.
 */
export function startEnvironment(pid: number): ReadonlyMap<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch (error) {
    if (!hasProcFileSystem()) return undefined;
    if ((error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const entries = text.split('\0').filter((entry) => entry.includes('=')).map((entry) => {
    const equals = entry.indexOf('=');
    return [entry.slice(0, equals), entry.slice(equals + 1)] as const;
  });
  return new Map(entries);
}

/**
 * Signals the process group `pid` leads (a service started detached leads its own group, so helpers
 * it spawned get the signal too), or the process alone when it leads none. Gone already: a no-op.
 */
export function signalProcessGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** Polls until `pid` has exited; false when it is still running after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, clock: Clock, signal?: AbortSignal, pollMs = 25): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (processExists(pid)) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(pollMs, signal);
  }
  return true;
}

/**
 * This process's PID namespace (Linux), else its host name: a pid recorded by another process can
 * only be checked from the same namespace (containers sharing a directory each have their own).
 */
export function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid').replace(/\s/g, '');
  } catch {
    return `host:${hostname().replace(/\s/g, '')}`;
  }
}

/** The state letter of /proc/<pid>/stat (R, S, Z, …), or undefined where it cannot be read. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces and parentheses: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
  } catch {
    return undefined;
  }
}

function hasProcFileSystem(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}
