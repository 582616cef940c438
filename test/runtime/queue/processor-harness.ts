// Shared by the queue worker's tests: local SQS for a test file with processors that are stopped after
// each test, a handler that keeps its own record of what it did, a capturing logger, a bounded wait.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Logger, LogLevel } from '../../../lib/runtime/json-logger.ts';
import type { HandlerContext, QueueHandler, QueueMessage } from '../../../lib/runtime/queue/queue-message.ts';
import { QueueProcessor } from '../../../lib/runtime/queue/queue-processor.ts';
import type { QueueProcessorOptions } from '../../../lib/runtime/queue/queue-processor-options.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';

export interface LocalSqsWorkers {
  /** Available inside tests (started in beforeAll). */
  readonly sqs: LocalSqs;
  /**
   * A processor on the local SQS client, logging into a capturing logger, long-polling 1 s; stopped
   * (deadline 0) after the test.
   */
  processor<Body = string>(options: Omit<QueueProcessorOptions<Body>, 'sqs'>): QueueProcessor<Body>;
}

/** Starts local SQS for the calling test file (stopped after it) and tracks the processors made through it. */
export function useLocalSqsWorkers(): LocalSqsWorkers {
  let sqs: LocalSqs | undefined;
  const processors = new Set<{ stop(options: { deadline: number }): Promise<unknown> }>();
  beforeAll(async () => {
    sqs = await startLocalSqs();
  });
  afterEach(async () => {
    await Promise.all([...processors].map((processor) => processor.stop({ deadline: 0 })));
    processors.clear();
  });
  afterAll(async () => {
    await sqs?.stop();
  });
  return {
    get sqs() {
      if (!sqs) throw new Error('local SQS is only available inside tests');
      return sqs;
    },
    processor(options) {
      const processor = new QueueProcessor({ sqs: this.sqs.client, logger: capturingLogger(), waitTimeSeconds: 1, ...options });
      processors.add(processor);
      return processor;
    },
  };
}

export interface HandlerRecord {
  /** Starts per body. */
  readonly starts: Map<string, number>;
  /** Successful completions per body, in completion order. */
  readonly completed: string[];
  readonly failures: string[];
  /** Receive counts seen per body, in order. */
  readonly receiveCounts: Map<string, number[]>;
  /** When each start happened, per body (ms since epoch). */
  readonly startTimes: Map<string, number[]>;
  inFlight: number;
  maxInFlight: number;
}

/** Wraps `behaviour` so that every start, completion and failure is recorded (by body). */
export function recordingHandler<Body = string>(
  behaviour: (message: QueueMessage<Body>, context: HandlerContext) => Promise<void> = async () => undefined,
): { readonly handler: QueueHandler<Body>; readonly record: HandlerRecord } {
  const record: HandlerRecord = { starts: new Map(), completed: [], failures: [], receiveCounts: new Map(), startTimes: new Map(), inFlight: 0, maxInFlight: 0 };
  const handler: QueueHandler<Body> = async (message, context) => {
    const key = message.rawBody;
    record.starts.set(key, (record.starts.get(key) ?? 0) + 1);
    record.receiveCounts.set(key, [...(record.receiveCounts.get(key) ?? []), context.receiveCount]);
    record.startTimes.set(key, [...(record.startTimes.get(key) ?? []), Date.now()]);
    record.inFlight += 1;
    record.maxInFlight = Math.max(record.maxInFlight, record.inFlight);
    try {
      await behaviour(message, context);
      record.completed.push(key);
    } catch (error) {
      record.failures.push(key);
      throw error;
    } finally {
      record.inFlight -= 1;
    }
  };
  return { handler, record };
}

/** Sleeps `ms`, or rejects with the signal's reason when it is aborted first. */
export function work(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(10);
  }
}

export interface CapturedLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A logger that keeps every entry (all levels) for assertions. */
export function capturingLogger(): Logger & { readonly lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  return { lines, log: (level, event, fields = {}) => lines.push({ level, event, fields }) };
}

/** `count` bodies `<prefix>-0` … */
export function bodies(count: number, prefix = 'm'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
}
