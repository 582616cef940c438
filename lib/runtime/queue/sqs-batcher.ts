// Collects per-message SQS actions (delete, change visibility) into batch calls of up to 10 entries:
// a batch goes out when it is full or after a short delay, whichever comes first. Entries that fail
// on the server's side, and whole calls that fail for a transient reason, are retried with back-off;
// entries SQS refuses (SenderFault, e.g. an expired receipt handle) are reported to their caller.
import type { Clock } from '../clock.ts';
import { type BackoffPolicy, exponentialBackoff, withJitter } from '../backoff.ts';
import { startTimer } from './clock-timer.ts';
import { asError, BatchEntryRejectedError, SqsCallError } from './errors.ts';
import { awsCodeOf, classifySqsError } from './sqs-error-kind.ts';

/** The most entries SQS takes in one batch call. */
export const SQS_BATCH_LIMIT = 10;

export interface BatchEntry {
  readonly messageId: string;
  readonly receiptHandle: string;
  /** ChangeMessageVisibilityBatch only: the new timeout in seconds. */
  readonly visibilityTimeout?: number;
}

/** An entry as sent: `Id` is unique within its call. */
export interface BatchRequestEntry extends BatchEntry {
  readonly Id: string;
}

/** What SQS's batch calls answer. */
export interface BatchResponse {
  readonly Successful?: readonly { readonly Id?: string | undefined }[] | undefined;
  readonly Failed?: readonly { readonly Id?: string | undefined; readonly Code?: string | undefined; readonly Message?: string | undefined; readonly SenderFault?: boolean | undefined }[] | undefined;
}

export type BatchOutcome = { readonly ok: true } | { readonly ok: false; readonly error: Error };

export interface SqsBatcherOptions {
  readonly operation: 'DeleteMessageBatch' | 'ChangeMessageVisibilityBatch';
  /** Makes one batch call. */
  readonly send: (entries: readonly BatchRequestEntry[]) => Promise<BatchResponse>;
  /** How long the first entry of a batch waits for others. */
  readonly flushDelayMs: number;
  /** Attempts per entry, counting the first. */
  readonly attempts: number;
  /** Delay before a retry, in milliseconds. */
  readonly retryBackoff: BackoffPolicy;
  /** Told about every failed call (also those retried afterwards). */
  readonly onCallError?: (error: Error) => void;
  /** Times the flush delay and the retry pauses. */
  readonly clock: Clock;
}

interface PendingEntry {
  entry: BatchEntry;
  readonly settle: ((outcome: BatchOutcome) => void)[];
}

export class SqsBatcher {
  // Keyed by receipt handle: a second action on the same message before the batch goes out replaces
  // the first (e.g. a heartbeat overtaken by the failure back-off), so SQS never sees both in one call.
  private readonly pending = new Map<string, PendingEntry>();
  private readonly calls = new Set<Promise<void>>();
  private cancelFlush: (() => void) | undefined;

  constructor(private readonly options: SqsBatcherOptions) {}

  /** Queues an action; resolves once SQS has taken it or it has finally failed. Never rejects. */
  add(entry: BatchEntry): Promise<BatchOutcome> {
    return new Promise((resolve) => {
      const existing = this.pending.get(entry.receiptHandle);
      if (existing) {
        existing.entry = entry;
        existing.settle.push(resolve);
        return;
      }
      this.pending.set(entry.receiptHandle, { entry, settle: [resolve] });
      if (this.pending.size >= SQS_BATCH_LIMIT) this.flush();
      else this.cancelFlush ??= startTimer(this.options.clock, this.options.flushDelayMs, () => this.flush());
    });
  }

  /** Sends everything queued now, without waiting for the delay. */
  flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (let start = 0; start < entries.length; start += SQS_BATCH_LIMIT) {
      const call = this.sendWithRetries(entries.slice(start, start + SQS_BATCH_LIMIT));
      this.calls.add(call);
      void call.finally(() => this.calls.delete(call));
    }
  }

  /** Sends what is queued and resolves when every call, retries included, has finished. */
  async drain(): Promise<void> {
    this.flush();
    while (this.calls.size > 0) await Promise.all(this.calls);
  }

  /** Entries queued or being sent. */
  get size(): number {
    return this.pending.size + this.calls.size;
  }

  private async sendWithRetries(batch: readonly PendingEntry[]): Promise<void> {
    const { operation, attempts } = this.options;
    let remaining = batch;
    for (let attempt = 1; remaining.length > 0; attempt += 1) {
      const lastAttempt = attempt >= attempts;
      let response: BatchResponse;
      try {
        response = await this.options.send(remaining.map((pending, index) => ({ ...pending.entry, Id: String(index) })));
      } catch (thrown) {
        const error = new SqsCallError(operation, awsCodeOf(thrown), attempt, asError(thrown).message, { cause: thrown });
        this.options.onCallError?.(error);
        if (lastAttempt || classifySqsError(thrown) === 'access') {
          for (const pending of remaining) settle(pending, { ok: false, error });
          return;
        }
        await this.pause(attempt);
        continue;
      }

      const retry: PendingEntry[] = [];
      const succeeded = new Set((response.Successful ?? []).map((entry) => entry.Id));
      const failed = new Map((response.Failed ?? []).map((entry) => [entry.Id, entry]));
      remaining.forEach((pending, index) => {
        const id = String(index);
        const failure = failed.get(id);
        if (succeeded.has(id) && !failure) {
          settle(pending, { ok: true });
        } else if (failure && (failure.SenderFault !== false || lastAttempt)) {
          settle(pending, { ok: false, error: new BatchEntryRejectedError(operation, pending.entry.messageId, failure.Code ?? 'UnknownError', failure.Message ?? '') });
        } else if (lastAttempt) {
          // Neither succeeded nor failed: SQS said nothing about it.
          settle(pending, { ok: false, error: new BatchEntryRejectedError(operation, pending.entry.messageId, 'MissingFromResponse', 'SQS did not report on this entry') });
        } else {
          retry.push(pending);
        }
      });
      remaining = retry;
      if (remaining.length > 0) await this.pause(attempt);
    }
  }

  private async pause(attempt: number): Promise<void> {
    await this.options.clock.sleep(withJitter(exponentialBackoff(attempt, this.options.retryBackoff)));
  }
}

function settle(pending: PendingEntry, outcome: BatchOutcome): void {
  for (const resolve of pending.settle) resolve(outcome);
}
