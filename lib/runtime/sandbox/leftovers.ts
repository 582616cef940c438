// Every process a sandbox started carries its directory in its environment: SLUICE_SANDBOX on the
// workers, HAProxy and PostgreSQL, SLUICE_STATE_DIR (set by the local installer) on the web apps,
// whoever started them. A sandbox killed outright (SIGKILL, a closed terminal) cannot stop them; the
// next start, and every stop as its last step, finds them in /proc by that mark and kills them. A pid
// file could name a reused pid; the mark cannot: it is read from the process itself.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { signalProcessGroup, startEnvironment } from '../release/local/local-process.ts';

/** The variable that marks a process as one of the sandbox in its value's directory. */
export const SANDBOX_MARK_VARIABLE = 'SLUICE_SANDBOX';

/** The pids of live processes marked with `dir`, this process excluded; empty where there is no /proc. */
export function sandboxProcesses(dir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const stateDir = join(dir, 'state');
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .filter((pid) => {
      let environment: ReadonlyMap<string, string> | undefined;
      try {
        environment = startEnvironment(pid);
      } catch {
        // Gone between the listing and the read (ESRCH), or unreadable: not one to kill.
        return false;
      }
      return environment !== undefined && (environment.get(SANDBOX_MARK_VARIABLE) === dir || environment.get('SLUICE_STATE_DIR') === stateDir);
    });
}

/** SIGKILLs every process marked with `dir` (and its process group); resolves with how many there were. */
export function killSandboxProcesses(dir: string): number {
  const pids = sandboxProcesses(dir);
  for (const pid of pids) {
    try {
      signalProcessGroup(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return pids.length;
}
