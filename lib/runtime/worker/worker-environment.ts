// What the worker runs, read from the instance's environment (/etc/sluice/env, written by the stack):
// QUEUE_URL → the queue processor; STREAM_NAME + CHECKPOINT_TABLE_NAME (+ STREAM_FAILURE_QUEUE_URL)
// → the stream consumer. The stack leaves a subsystem's variables out when Lambda consumes it, so
// the instance worker stays out of Lambda's way.
import { formatProblems, Problems } from '../problems.ts';

export interface WorkerSettings {
  /** @default - none: the queue is consumed by Lambda */
  readonly queue?: {
    readonly queueUrl: string;
    /** WORKER_CONCURRENCY. @default 32 */
    readonly concurrency: number;
    /**
     * WORKER_VISIBILITY_TIMEOUT_SECONDS: how long a received job stays hidden before the heartbeat
     * extends it — and so how soon a crashed worker's jobs go to another. @default 60
     */
    readonly visibilityTimeoutSeconds: number;
  };
  /** @default - none: the stream is consumed by Lambda */
  readonly stream?: {
    readonly streamName: string;
    readonly checkpointTableName: string;
    /** @default - none: a record that keeps failing is retried until it succeeds, and its shard waits */
    readonly failureQueueUrl?: string;
  };
  /**
   * WORKER_STOP_TIMEOUT_SECONDS (systemd's TimeoutStopSec, default 60) less 5 s kept for the last
   * deletes, checkpoints and lease releases, at least 1 s.
   */
  readonly stopDeadlineMs: number;
}

/** The environment does not describe a worker that can run; lists every problem. */
export class InvalidWorkerEnvironmentError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the worker's environment (/etc/sluice/env) is not usable:\n${formatProblems(problems)}`);
    this.name = 'InvalidWorkerEnvironmentError';
  }
}

/** Reads and checks the worker's variables; throws InvalidWorkerEnvironmentError listing every problem. */
export function readWorkerEnvironment(env: Readonly<Record<string, string | undefined>>): WorkerSettings {
  const problems = new Problems();
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  /** A whole-number variable, checked as text so that the problem shows what was written. */
  const wholeNumber = (name: string, fallback: number, max: number, unit = ''): number => {
    const text = value(name);
    if (text === undefined) return fallback;
    const parsed = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    problems.check(parsed >= 1 && parsed <= max, `${name} must be a whole number between 1 and ${max}${unit} (given "${text}")`);
    return parsed;
  };
  const stopTimeoutSeconds = wholeNumber('WORKER_STOP_TIMEOUT_SECONDS', 60, 24 * 3600, ' seconds');

  const queueUrl = value('QUEUE_URL');
  let concurrency = 32;
  let visibilityTimeoutSeconds = 60;
  if (queueUrl !== undefined) {
    problems.matches('QUEUE_URL', queueUrl, /^https?:\/\//, 'a queue URL');
    concurrency = wholeNumber('WORKER_CONCURRENCY', 32, 10_000);
    // SQS's own limit is 12 hours.
    visibilityTimeoutSeconds = wholeNumber('WORKER_VISIBILITY_TIMEOUT_SECONDS', 60, 12 * 3600, ' seconds');
  }

  const streamName = value('STREAM_NAME');
  const checkpointTableName = value('CHECKPOINT_TABLE_NAME');
  const failureQueueUrl = value('STREAM_FAILURE_QUEUE_URL');
  if ((streamName === undefined) !== (checkpointTableName === undefined)) {
    problems.add(`STREAM_NAME and CHECKPOINT_TABLE_NAME must be set together or not at all (given only ${streamName !== undefined ? 'STREAM_NAME' : 'CHECKPOINT_TABLE_NAME'})`);
  }
  problems.matches('STREAM_FAILURE_QUEUE_URL', failureQueueUrl, /^https?:\/\//, 'a queue URL');
  problems.throwIfAny((list) => new InvalidWorkerEnvironmentError(list));

  return {
    ...(queueUrl !== undefined ? { queue: { queueUrl, concurrency, visibilityTimeoutSeconds } } : {}),
    ...(streamName !== undefined && checkpointTableName !== undefined
      ? { stream: { streamName, checkpointTableName, ...(failureQueueUrl !== undefined ? { failureQueueUrl } : {}) } }
      : {}),
    stopDeadlineMs: Math.max(1, stopTimeoutSeconds - 5) * 1000,
  };
}
