// Errors of the queue worker. Each says what failed, why, and what to do next; subclasses carry the
// context (message id, SQS operation, AWS error code) that events and logs report.
import { formatProblems } from '../problems.ts';

export class QueueProcessorError extends Error {
  /** Machine-readable reason, e.g. `HandlerTimeout`, `InvalidClientTokenId`, `ReceiptHandleIsInvalid`. */
  readonly reasonCode: string;
  constructor(message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueueProcessorError';
    this.reasonCode = reasonCode;
  }
}

/** The processor (or the Lambda batch processor: `subject`) was given options it cannot work with; lists every problem. */
export class InvalidQueueProcessorOptionsError extends QueueProcessorError {
  constructor(readonly problems: readonly string[], subject = 'QueueProcessor options') {
    super(`Invalid ${subject}:\n${formatProblems(problems)}`, 'InvalidOptions');
    this.name = 'InvalidQueueProcessorOptionsError';
  }
}

/**
 * SQS refused the worker itself: bad or expired credentials, missing permission, or no such queue.
 * Retrying cannot help, so the processor stops.
 */
export class SqsAccessError extends QueueProcessorError {
  constructor(readonly operation: string, readonly queueUrl: string, readonly awsCode: string, detail: string, options?: ErrorOptions) {
    super(
      `SQS ${operation} on ${queueUrl} was refused (${awsCode}: ${detail}); ${
        /QueueDoesNotExist|NonExistentQueue/.test(awsCode)
          ? 'check the queue URL the worker is configured with'
          : `check that the worker's AWS credentials are valid and allow sqs:${operation} on this queue`
      }. The worker stopped.`,
      awsCode,
      options,
    );
    this.name = 'SqsAccessError';
  }
}

/** An SQS call kept failing (throttling, network, server errors) until its retries ran out. */
export class SqsCallError extends QueueProcessorError {
  constructor(readonly operation: string, readonly awsCode: string, readonly attempts: number, detail: string, options?: ErrorOptions) {
    super(`SQS ${operation} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${awsCode}: ${detail}`, awsCode, options);
    this.name = 'SqsCallError';
  }
}

/**
 * SQS refused one entry of a batch (e.g. `ReceiptHandleIsInvalid` because the message became visible
 * and was received elsewhere). For a delete this means the message will be processed again.
 */
export class BatchEntryRejectedError extends QueueProcessorError {
  constructor(readonly operation: string, readonly messageId: string, readonly awsCode: string, detail: string) {
    super(`SQS ${operation} refused message ${messageId}: ${awsCode}: ${detail}`, awsCode);
    this.name = 'BatchEntryRejectedError';
  }
}

/** A handler ran past its time limit; its signal was aborted and the message counts as failed. */
export class HandlerTimeoutError extends QueueProcessorError {
  constructor(readonly messageId: string, readonly timeoutMs: number) {
    super(`handler for message ${messageId} did not finish within ${timeoutMs} ms; the message will be retried`, 'HandlerTimeout');
    this.name = 'HandlerTimeoutError';
  }
}

/** The stop deadline passed while the handler was still running; its message is returned to the queue. */
export class StopDeadlineError extends QueueProcessorError {
  constructor(readonly messageId: string, readonly deadlineMs: number) {
    super(`the worker is stopping and message ${messageId} was still being handled ${deadlineMs} ms after stop(); it is returned to the queue`, 'StopDeadline');
    this.name = 'StopDeadlineError';
  }
}

/** A message body could not be parsed; it fails every time and so ends up in the dead-letter queue. */
export class MessageParseError extends QueueProcessorError {
  constructor(readonly messageId: string, detail: string, options?: ErrorOptions) {
    super(`message ${messageId} has a body that cannot be parsed (${detail}); it goes to the dead-letter queue after maxReceiveCount receives`, 'UnparseableBody', options);
    this.name = 'MessageParseError';
  }
}

/** A message has been in flight for the 12 hours SQS allows; the heartbeat cannot keep it invisible. */
export class VisibilityLimitError extends QueueProcessorError {
  constructor(readonly messageId: string) {
    super(`message ${messageId} has been in flight for 12 hours, the most SQS allows; it becomes visible again and may be processed twice`, 'VisibilityLimit');
    this.name = 'VisibilityLimitError';
  }
}

/** Turns anything thrown into an Error (handlers may throw strings). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
