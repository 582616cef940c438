// Worker child processes for the stream tests and the stream bench: test/helpers/stream-test-worker.ts
// (the real worker composition) pointed at the local stand-ins through the SDK's AWS_ENDPOINT_URL_*
// variables, as an instance's worker is pointed at AWS by /etc/sluice/env, and what they recorded.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { type LocalEndpoints, localWorkerEnvironment } from '../../lib/runtime/sandbox/local-aws-environment.ts';
import { projectRoot } from './run-cdk.ts';

export { type LocalEndpoints, localWorkerEnvironment };

export interface StreamWorkerTimings {
  /** @default - the consumer's (10 s) */
  readonly leaseMs?: number;
  readonly scanMs?: number;
  readonly idleMs?: number;
  readonly checkpointMs?: number;
  /** Time the processor takes per batch. @default 0 */
  readonly processMs?: number;
}

export interface StreamWorkerOptions {
  readonly name: string;
  readonly endpoints: LocalEndpoints;
  readonly recordFile: string;
  /** The stack's variables: STREAM_NAME, CHECKPOINT_TABLE_NAME, QUEUE_URL, WORKER_STOP_TIMEOUT_SECONDS … */
  readonly env: Readonly<Record<string, string>>;
  readonly timings?: StreamWorkerTimings;
  /** @default 'test/helpers/stream-test-worker.ts' */
  readonly entry?: string;
}

export interface StreamWorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Its `leaseOwner` in the lease table. */
  readonly workerId: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** What it wrote to standard output and standard error. */
  output(): string;
}

export function spawnStreamWorker(options: StreamWorkerOptions): StreamWorkerProcess {
  const { timings = {} } = options;
  const testEnv: Record<string, string> = { RECORD_FILE: options.recordFile, WORKER_NAME: options.name };
  const timingVariables = { LEASE_MS: timings.leaseMs, SCAN_MS: timings.scanMs, IDLE_MS: timings.idleMs, CHECKPOINT_MS: timings.checkpointMs, PROCESS_MS: timings.processMs };
  for (const [variable, value] of Object.entries(timingVariables)) if (value !== undefined) testEnv[variable] = String(value);
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? 'test/helpers/stream-test-worker.ts'], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: localWorkerEnvironment(options.endpoints, { ...testEnv, ...options.env }),
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { name: options.name, child, workerId: `${options.name}:${child.pid}`, exited, output: () => output };
}

export interface RecordedRecord {
  readonly worker: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly data: string;
  readonly at: number;
}

/** What the workers recorded, in the order they recorded it. */
export interface WorkerRecord {
  readonly records: RecordedRecord[];
  readonly messages: { readonly worker: string; readonly body: string; readonly at: number }[];
}

export function readWorkerRecord(path: string): WorkerRecord {
  const record: WorkerRecord = { records: [], messages: [] };
  if (!existsSync(path)) return record;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[0] === 'stream' && fields.length === 6) {
      const [, worker, shardId, sequenceNumber, data, at] = fields as [string, string, string, string, string, string];
      record.records.push({ worker, shardId, sequenceNumber, data, at: Number(at) });
    } else if (fields[0] === 'queue' && fields.length === 4) {
      record.messages.push({ worker: fields[1]!, body: fields[2]!, at: Number(fields[3]) });
    }
  }
  return record;
}

/** Kills every process still running (SIGKILL); for afterAll. */
export function killAll(workers: readonly StreamWorkerProcess[]): void {
  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
}
