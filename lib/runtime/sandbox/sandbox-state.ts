// The running sandbox, described in one file: `<dir>/sandbox.json`, written once everything is up
// and removed when it stops. `sluice sandbox status`, `sluice sandbox package` and the status page
// find every stand-in through it, so they need no flags. The pid tells a live sandbox from one that
// was killed before it could clean up (the next `sluice sandbox` then clears what it left behind).

import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { processExists } from '../release/local/local-process.ts';
import { readFileIfExists, writeFileAtomically } from '../release/local/state-files.ts';

export const SANDBOX_STATE_FILE = 'sandbox.json';

/** The HAProxy backend and frontend names the sandbox's config uses (distinct: `show stat <name>` finds the first proxy of a name). */
export const SANDBOX_BACKEND = 'app';
export const SANDBOX_FRONTEND = 'web';

export interface SandboxWorkerState {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
}

export interface SandboxState {
  /** The sandbox process. */
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly dir: string;
  /** HAProxy's frontend: where a person sends requests. */
  readonly url: string;
  /** @default - none: the status page did not start */
  readonly statusPageUrl?: string;
  readonly version: string;
  readonly haproxy: { readonly socket: string; readonly backend: string; readonly frontend: string; readonly checkIntervalMs: number };
  /** The `--local-targets` file the release CLI reads; its releasesDir and stateDir are inside `dir`. */
  readonly targetsFile: string;
  readonly releasesDir: string;
  readonly sqs: { readonly endpoint: string; readonly queueUrl: string; readonly deadLetterQueueUrl: string; readonly streamFailureQueueUrl: string };
  readonly kinesis: { readonly endpoint: string; readonly streamName: string };
  readonly dynamodb: { readonly endpoint: string; readonly checkpointTableName: string; readonly releaseTableName: string };
  /** @default - none: PostgreSQL is not installed, and the app runs without a database */
  readonly postgres?: { readonly url: string };
  /** The external API stand-in the worker's handler POSTs each job to. */
  readonly jobSinkUrl: string;
  readonly workers: readonly SandboxWorkerState[];
}

/** Where `sluice sandbox` keeps everything by default: one per user, so `status` finds it without flags. */
export function defaultSandboxDir(): string {
  return join(tmpdir(), `sluice-sandbox-${userInfo().uid}`);
}

export async function writeSandboxState(state: SandboxState): Promise<void> {
  await writeFileAtomically(join(state.dir, SANDBOX_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** The state of the sandbox in `dir`, and whether its process still runs; undefined when none was started there. */
export async function readSandboxState(dir: string): Promise<{ readonly state: SandboxState; readonly running: boolean } | undefined> {
  const text = await readFileIfExists(join(dir, SANDBOX_STATE_FILE));
  if (text === undefined) return undefined;
  let state: SandboxState;
  try {
    state = JSON.parse(text) as SandboxState;
  } catch (error) {
    throw new Error(`${join(dir, SANDBOX_STATE_FILE)} is not valid JSON (${(error as Error).message}): stop the sandbox and start it again`);
  }
  return { state, running: Number.isInteger(state.pid) && processExists(state.pid) };
}
