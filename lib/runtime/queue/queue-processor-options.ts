// The QueueProcessor's options, their defaults, and the check that lists every bad one at once.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, systemClock } from '../clock.ts';
import { InvalidQueueProcessorOptionsError } from './errors.ts';
import { jsonLogger, type Logger } from '../json-logger.ts';
import { Problems } from '../problems.ts';
import { MAX_VISIBILITY_SECONDS } from './message-lease.ts';
import type { BodyParser, QueueHandler } from './queue-message.ts';

export interface QueueProcessorOptions<Body = string> {
  /**
   * The client every SQS call goes through. Its HTTP agent needs a socket per poll (at most 10) plus
   * a few for deletes and heartbeats (the SDK's default of 50 is plenty), and its request timeout, if
   * set, must exceed `waitTimeSeconds`.
   */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Resolve = done (the message is deleted); throw = failed (retried with back-off, then the DLQ). */
  readonly handler: QueueHandler<Body>;
  /**
   * How the body is turned into `message.body`. A body that fails to parse counts as a failure every
   * time, so it reaches the dead-letter queue after maxReceiveCount receives; the handler never sees it.
   * @default 'text'
   */
  readonly parse?: BodyParser<Body>;
  /**
   * Handlers running at once. Independent of `batchSize`: the worker runs as many polls as it takes
   * to keep this many handlers busy.
   * @default 32
   */
  readonly concurrency?: number;
  /**
   * Messages one receive asks for (SQS allows 1–10; never more than `concurrency`). Polls always ask
   * for a full batch, so receives stay full under load (fewer calls per message); in exchange up to
   * `batchSize − 1` received messages may wait for a free handler, kept invisible by the heartbeat.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Long-poll wait per receive, 1–20 seconds. stop() aborts polls at once, so a long wait never
   * slows a shutdown.
   * @default 20 seconds
   */
  readonly waitTimeSeconds?: number;
  /**
   * Visibility timeout asked for on every receive and used by the heartbeat for each extension. It
   * bounds how long a crashed worker's messages stay hidden; slow handlers are covered by the heartbeat.
   * @default 60 seconds
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Time a handler gets before its signal is aborted and the message counts as failed.
   * @default 15 minutes
   */
  readonly handlerTimeoutMs?: number;
  /**
   * After aborting a handler's signal (timeout or stop deadline), how long to wait for it to settle
   * before giving up on it (its slot is freed; its message is left to its visibility timeout).
   * @default 1 second
   */
  readonly abortGraceMs?: number;
  /**
   * Invisibility of a failed message before its next try: `initialSeconds × 2^(receiveCount − 1)`,
   * capped at `maxSeconds` (and by the 12-hour limit).
   * @default { initialSeconds: 5, maxSeconds: 900 }
   */
  readonly failureBackoff?: { readonly initialSeconds: number; readonly maxSeconds: number };
  /**
   * How long a finished message waits for others before its DeleteMessageBatch goes out (a full
   * batch of 10 goes out at once).
   * @default 50 milliseconds
   */
  readonly deleteFlushDelayMs?: number;
  /**
   * Pause before retrying a failed SQS call (throttling, network, server errors), doubling per
   * consecutive failure with jitter.
   * @default { initialMs: 200, maxMs: 20000 }
   */
  readonly sqsRetryBackoff?: { readonly initialMs: number; readonly maxMs: number };
  /**
   * Attempts per DeleteMessageBatch / ChangeMessageVisibilityBatch entry before giving up on it.
   * @default 5
   */
  readonly batchAttempts?: number;
  /**
   * How long running handlers may finish when stop() is called without a deadline, and when the
   * processor stops by itself after an access error.
   * @default 30 seconds
   */
  readonly stopDeadlineMs?: number;
  /** @default - JSON lines on standard output, component `queue-processor`, level info */
  readonly logger?: Logger;
  /**
   * Where every timer of the processor runs: handler timeouts, the heartbeat, delete batching,
   * back-off pauses, the stop deadline. Tests pass a virtual clock to run hours of queue time at once.
   * @default systemClock
   */
  readonly clock?: Clock;
}

export interface ResolvedQueueProcessorOptions<Body> {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: QueueHandler<Body>;
  readonly parse: BodyParser<Body>;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly handlerTimeoutMs: number;
  readonly abortGraceMs: number;
  readonly failureBackoff: { readonly initial: number; readonly max: number };
  readonly deleteFlushDelayMs: number;
  readonly sqsRetryBackoff: { readonly initial: number; readonly max: number };
  readonly batchAttempts: number;
  readonly stopDeadlineMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Applies the defaults and throws one InvalidQueueProcessorOptionsError listing every problem. */
export function resolveQueueProcessorOptions<Body>(options: QueueProcessorOptions<Body>): ResolvedQueueProcessorOptions<Body> {
  const resolved: ResolvedQueueProcessorOptions<Body> = {
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    handler: options.handler,
    parse: options.parse ?? 'text',
    concurrency: options.concurrency ?? 32,
    batchSize: options.batchSize ?? 10,
    waitTimeSeconds: options.waitTimeSeconds ?? 20,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
    handlerTimeoutMs: options.handlerTimeoutMs ?? 15 * 60_000,
    abortGraceMs: options.abortGraceMs ?? 1_000,
    failureBackoff: { initial: options.failureBackoff?.initialSeconds ?? 5, max: options.failureBackoff?.maxSeconds ?? 900 },
    deleteFlushDelayMs: options.deleteFlushDelayMs ?? 50,
    sqsRetryBackoff: { initial: options.sqsRetryBackoff?.initialMs ?? 200, max: options.sqsRetryBackoff?.maxMs ?? 20_000 },
    batchAttempts: options.batchAttempts ?? 5,
    stopDeadlineMs: options.stopDeadlineMs ?? 30_000,
    logger: options.logger ?? jsonLogger({ component: 'queue-processor' }),
    clock: options.clock ?? systemClock,
  };

  const problems = new Problems();
  problems.check(!!resolved.sqs && typeof resolved.sqs.send === 'function', 'sqs must be an SQSClient');
  problems.check(typeof resolved.queueUrl === 'string' && /^https?:\/\//.test(resolved.queueUrl), `queueUrl must be a queue URL (given ${JSON.stringify(resolved.queueUrl)})`);
  problems.check(typeof resolved.handler === 'function', 'handler must be a function (message, { signal, receiveCount }) => Promise<void>');
  problems.check(
    resolved.parse === 'text' || resolved.parse === 'json' || typeof resolved.parse === 'function',
    `parse must be 'text', 'json' or a function (given ${JSON.stringify(resolved.parse)})`,
  );
  problems.wholeNumber('concurrency', resolved.concurrency, 1, 10_000);
  problems.wholeNumber('batchSize', resolved.batchSize, 1, 10);
  problems.wholeNumber('waitTimeSeconds', resolved.waitTimeSeconds, 1, 20, 'seconds');
  problems.wholeNumber('visibilityTimeoutSeconds', resolved.visibilityTimeoutSeconds, 1, MAX_VISIBILITY_SECONDS, 'seconds');
  problems.wholeNumber('handlerTimeoutMs', resolved.handlerTimeoutMs, 1, 12 * 60 * 60_000, 'milliseconds');
  problems.wholeNumber('abortGraceMs', resolved.abortGraceMs, 0, 60_000, 'milliseconds');
  problems.wholeNumber('failureBackoff.initialSeconds', resolved.failureBackoff.initial, 0, MAX_VISIBILITY_SECONDS, 'seconds');
  problems.wholeNumber('failureBackoff.maxSeconds', resolved.failureBackoff.max, resolved.failureBackoff.initial, MAX_VISIBILITY_SECONDS, 'seconds');
  problems.wholeNumber('deleteFlushDelayMs', resolved.deleteFlushDelayMs, 0, 10_000, 'milliseconds');
  problems.wholeNumber('sqsRetryBackoff.initialMs', resolved.sqsRetryBackoff.initial, 1, 60_000, 'milliseconds');
  problems.wholeNumber('sqsRetryBackoff.maxMs', resolved.sqsRetryBackoff.max, resolved.sqsRetryBackoff.initial, 300_000, 'milliseconds');
  problems.wholeNumber('batchAttempts', resolved.batchAttempts, 1, 20);
  problems.wholeNumber('stopDeadlineMs', resolved.stopDeadlineMs, 0, 12 * 60 * 60_000, 'milliseconds');
  problems.throwIfAny((list) => new InvalidQueueProcessorOptionsError(list));
  return resolved;
}
