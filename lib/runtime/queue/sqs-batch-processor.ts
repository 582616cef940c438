// The Lambda variant of the queue worker. It runs the same handler contract as QueueProcessor over
// the batch of one SQS event and answers with a partial batch response (ReportBatchItemFailures):
// Lambda deletes the messages that succeeded, and only the failed ones are retried (and, after
// maxReceiveCount receives, moved to the dead-letter queue).
//
// - Handlers run concurrently, at most `concurrency` at once.
// - FIFO queues: one message at a time per message group, in order. Once one fails, every later
//   message of its group is reported failed without running, as AWS requires: a later message must
//   not be deleted while an earlier one is retried. Other groups carry on.
// - Shortly before the invocation would time out, running handlers' signals are aborted, nothing
//   new starts, and the answer is sent with every unfinished message reported failed. A timed-out
//   invocation would make Lambda retry the whole batch, including the messages that succeeded.
import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type Clock, systemClock } from '../clock.ts';
import { startTimer } from './clock-timer.ts';
import { asError, InvalidQueueProcessorOptionsError, QueueProcessorError } from './errors.ts';
import { FifoGroupGate } from './fifo-group-gate.ts';
import { jsonLogger, type Logger, type LogLevel } from '../json-logger.ts';
import { Problems } from '../problems.ts';
import { isFifoRecord, recordToMessage } from './lambda-sqs-record.ts';
import { type BodyParser, type QueueHandler, receiveCountOf, toQueueMessage } from './queue-message.ts';

export interface SqsBatchProcessorOptions<Body = string> {
  /** Resolve = done (the message is deleted); throw = failed (reported by message id and retried). */
  readonly handler: QueueHandler<Body>;
  /**
   * How the body is turned into `message.body`. A body that fails to parse is reported failed
   * without reaching the handler, so it lands in the dead-letter queue after maxReceiveCount receives.
   * @default 'text'
   */
  readonly parse?: BodyParser<Body>;
  /**
   * Handlers running at once within one invocation. An SQS event holds at most 10 messages unless
   * the event source has a batching window, so the default runs a whole batch at once.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * How long before the invocation's timeout the handlers' signals are aborted; the answer goes out
   * half of this later, whether or not they have settled. Never more than a quarter of the time the
   * invocation has left when it starts.
   * @default 1 second
   */
  readonly abortBeforeTimeoutMs?: number;
  /** @default - JSON lines on standard output, component `queue-consumer`, level info */
  readonly logger?: Logger;
  /**
   * Times the abort before the invocation's timeout and the answer after it (the time left is
   * Lambda's own count, read from the context).
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** What the processor reads from Lambda's context object. */
export type InvocationContext = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>;

export type SqsBatchProcessor = (event: SQSEvent, context: InvocationContext) => Promise<SQSBatchResponse>;

/** The invocation was about to time out while a handler was still running; its message is retried. */
export class InvocationDeadlineError extends QueueProcessorError {
  constructor(readonly messageId: string, readonly remainingMs: number) {
    super(
      `the Lambda invocation had ${remainingMs} ms left while message ${messageId} was still being handled; it is reported failed and will be retried (raise the function's timeout if handlers need longer)`,
      'InvocationDeadline',
    );
    this.name = 'InvocationDeadlineError';
  }
}

/** Checks the options once (at cold start) and returns the function that processes each event. */
export function createSqsBatchProcessor<Body = string>(options: SqsBatchProcessorOptions<Body>): SqsBatchProcessor {
  const settings: BatchSettings<Body> = {
    handler: options.handler,
    parse: options.parse ?? 'text',
    concurrency: options.concurrency ?? 10,
    abortBeforeTimeoutMs: options.abortBeforeTimeoutMs ?? 1_000,
    logger: options.logger ?? jsonLogger({ component: 'queue-consumer' }),
    clock: options.clock ?? systemClock,
  };
  const problems = new Problems();
  problems.check(typeof settings.handler === 'function', 'handler must be a function (message, { signal, receiveCount }) => Promise<void>');
  problems.wholeNumber('concurrency', settings.concurrency, 1, 1_000);
  problems.wholeNumber('abortBeforeTimeoutMs', settings.abortBeforeTimeoutMs, 0, 60_000, 'milliseconds');
  problems.throwIfAny((list) => new InvalidQueueProcessorOptionsError(list, 'SQS batch processor options'));
  return (event, context) => new BatchRun(event.Records ?? [], context, settings).response;
}

interface BatchSettings<Body> {
  readonly handler: QueueHandler<Body>;
  readonly parse: BodyParser<Body>;
  readonly concurrency: number;
  readonly abortBeforeTimeoutMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

interface BatchEntry {
  readonly record: SQSRecord;
  readonly message: Message;
  readonly messageId: string;
  readonly receiveCount: number;
  /** Set on FIFO queues only: standard queues keep no order, even for messages sent with a group id. */
  readonly messageGroupId: string | undefined;
}

/** One invocation: runs the batch and resolves `response` once every message is settled or time is up. */
class BatchRun<Body> {
  readonly response: Promise<SQSBatchResponse>;
  private resolveResponse!: (response: SQSBatchResponse) => void;
  private readonly entries: readonly BatchEntry[];
  private readonly gate = new FifoGroupGate<BatchEntry>();
  private readonly running = new Map<BatchEntry, AbortController>();
  private readonly failed = new Set<BatchEntry>();
  private readonly cancelTimers: (() => void)[] = [];
  private readonly startedAt: number;
  private succeeded = 0;
  private deadlineReached = false;
  private finished = false;

  constructor(records: readonly SQSRecord[], private readonly context: InvocationContext, private readonly settings: BatchSettings<Body>) {
    this.response = new Promise((resolve) => (this.resolveResponse = resolve));
    this.startedAt = settings.clock.now();
    this.entries = records.map((record) => {
      const message = recordToMessage(record);
      return {
        record,
        message,
        messageId: record.messageId,
        receiveCount: receiveCountOf(message),
        messageGroupId: isFifoRecord(record) ? record.attributes.MessageGroupId : undefined,
      };
    });
    for (const entry of this.entries) this.gate.hold(entry);

    const remainingMs = context.getRemainingTimeInMillis();
    const marginMs = Math.min(settings.abortBeforeTimeoutMs, Math.floor(remainingMs / 4));
    const abortInMs = remainingMs - marginMs;
    if (abortInMs <= 0) {
      this.reachDeadline();
      return;
    }
    this.cancelTimers.push(startTimer(settings.clock, abortInMs, () => this.reachDeadline()));
    this.cancelTimers.push(startTimer(settings.clock, abortInMs + Math.floor(marginMs / 2), () => this.finish()));
    this.pump();
  }

  /** Starts waiting messages while slots are free; finishes when nothing is left to run. */
  private pump(): void {
    while (!this.deadlineReached && this.running.size < this.settings.concurrency) {
      const entry = this.gate.next();
      if (!entry) break;
      void this.run(entry);
    }
    if (this.running.size === 0 && (this.gate.size === 0 || this.deadlineReached)) this.finish();
  }

  private async run(entry: BatchEntry): Promise<void> {
    const controller = new AbortController();
    this.running.set(entry, controller);
    const error = await this.execute(entry, controller.signal);
    this.running.delete(entry);
    this.gate.finish(entry);
    if (this.finished) {
      // The answer has gone out with this message reported failed; it will be retried.
      this.log('warn', 'handler_settled_late', { messageId: entry.messageId, succeeded: error === undefined });
      return;
    }
    if (error === undefined) {
      this.succeeded += 1;
    } else {
      this.fail(entry, error);
    }
    this.pump();
  }

  /** Runs the handler; resolves with its error, or undefined when it succeeded. */
  private async execute(entry: BatchEntry, signal: AbortSignal): Promise<Error | undefined> {
    try {
      const message = toQueueMessage(entry.message, this.settings.parse);
      await this.settings.handler(message, { signal, receiveCount: entry.receiveCount });
      return undefined;
    } catch (error) {
      // A handler that gives up because of the deadline usually throws the abort itself; the reason says more.
      return signal.aborted ? asError(signal.reason) : asError(error);
    }
  }

  private fail(entry: BatchEntry, error: Error): void {
    this.failed.add(entry);
    this.log('warn', 'message_failed', { messageId: entry.messageId, receiveCount: entry.receiveCount, ...groupOf(entry), error });
    if (entry.messageGroupId === undefined) return;
    for (const skipped of this.gate.takeGroup(entry.messageGroupId)) {
      this.failed.add(skipped);
      this.log('info', 'message_skipped', { messageId: skipped.messageId, ...groupOf(skipped), behind: entry.messageId });
    }
  }

  private reachDeadline(): void {
    this.deadlineReached = true;
    const remainingMs = this.context.getRemainingTimeInMillis();
    for (const entry of this.gate.takeAll()) {
      this.failed.add(entry);
      this.log('warn', 'message_not_started', { messageId: entry.messageId, remainingMs });
    }
    for (const [entry, controller] of this.running) controller.abort(new InvocationDeadlineError(entry.messageId, remainingMs));
    this.pump();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const cancel of this.cancelTimers) cancel();
    for (const entry of this.running.keys()) {
      // Its handler ignored the signal. It may still complete later, so the message may run twice.
      this.failed.add(entry);
      this.log('warn', 'handler_abandoned', { messageId: entry.messageId });
    }
    const batchItemFailures = this.entries.filter((entry) => this.failed.has(entry)).map((entry) => ({ itemIdentifier: entry.messageId }));
    this.log('info', 'batch_processed', {
      ...(this.context.awsRequestId ? { requestId: this.context.awsRequestId } : {}),
      messages: this.entries.length,
      succeeded: this.succeeded,
      failed: batchItemFailures.length,
      durationMs: this.settings.clock.now() - this.startedAt,
    });
    this.resolveResponse({ batchItemFailures });
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
    this.settings.logger.log(level, event, fields);
  }
}

function groupOf(entry: BatchEntry): { messageGroupId?: string } {
  return entry.messageGroupId === undefined ? {} : { messageGroupId: entry.messageGroupId };
}
