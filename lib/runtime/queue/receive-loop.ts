// The long polls. A poll asks for a full batch (10, or the concurrency if smaller), and the loop keeps
// starting polls while the messages asked for would fit into the free handler slots plus less than
// one batch waiting. So the worker runs as many polls as keep its handlers busy (up to
// MAX_CONCURRENT_POLLS), under a backlog every handler runs and every receive is full (so cheap),
// and at most batch − 1 received messages wait for a slot: they start as soon as a handler
// finishes, and the heartbeat keeps them invisible meanwhile. Throttling and network errors pause
// every poll with growing back-off; an access error (credentials, permissions, missing queue) ends
// the loop.
import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../clock.ts';
import { type BackoffPolicy, exponentialBackoff, withJitter } from '../backoff.ts';
import { startTimer } from './clock-timer.ts';
import { asError, SqsAccessError, SqsCallError } from './errors.ts';
import { awsCodeOf, classifySqsError, type SqsErrorKind } from './sqs-error-kind.ts';

/**
 * Polls in flight at most. Under a backlog a poll returns at once, so 10 polls of 10 keep thousands of
 * handlers busy; more would only tie up sockets that deletes and heartbeats need (the SDK's default
 * HTTP agent has 50), and a heartbeat queued behind long polls would let visibility lapse.
 */
export const MAX_CONCURRENT_POLLS = 10;

/** The system attributes every poll asks for. */
const SYSTEM_ATTRIBUTES = ['ApproximateReceiveCount', 'MessageGroupId', 'SentTimestamp', 'AWSTraceHeader'] as const;

export interface ReceiveLoopOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Most messages per poll, 1–10. */
  readonly batchSize: number;
  /** Handler slots in all; a poll never asks for more. */
  readonly concurrency: number;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  /** Messages the processor could start right now (free slots minus messages already waiting). */
  readonly capacity: () => number;
  /** A poll's messages; `requestedAt` is when that poll was sent. */
  readonly onMessages: (messages: readonly Message[], requestedAt: number) => void;
  /** Before each poll is sent (for counting calls). */
  readonly onCall?: () => void;
  /** A failed poll that will be retried after back-off. */
  readonly onError: (error: SqsCallError, kind: SqsErrorKind) => void;
  /** A failure no retry can fix; the loop has stopped. */
  readonly onFatal: (error: SqsAccessError) => void;
  /** Pause after consecutive failures, in milliseconds. */
  readonly retryBackoff: BackoffPolicy;
  /** Times the pauses and stamps each poll's `requestedAt`. */
  readonly clock: Clock;
}

export class ReceiveLoop {
  private running = false;
  /** Messages asked for by polls still in flight. */
  private requested = 0;
  private consecutiveFailures = 0;
  private pausedUntil = 0;
  private cancelResume: (() => void) | undefined;
  // One controller per poll: a shared signal would collect a listener per request for the life of the worker.
  private readonly polls = new Map<Promise<void>, AbortController>();

  constructor(private readonly options: ReceiveLoopOptions) {}

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Starts polls while there is capacity nobody has asked for. Cheap; call it whenever a slot frees. */
  pump(): void {
    if (!this.running || this.options.clock.now() < this.pausedUntil) return;
    const batch = Math.min(this.options.batchSize, this.options.concurrency);
    // Without the batch − 1 of headroom, slots would idle whenever fewer than a batch were free.
    while (this.polls.size < MAX_CONCURRENT_POLLS && this.options.capacity() + batch - 1 - this.requested >= batch) this.launch(batch);
  }

  /** Aborts every poll in flight at once; resolves when they have all settled. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelResume?.();
    for (const controller of this.polls.values()) controller.abort();
    await Promise.all(this.polls.keys());
  }

  /** Polls in flight. */
  get activePolls(): number {
    return this.polls.size;
  }

  private launch(count: number): void {
    const controller = new AbortController();
    this.requested += count;
    const poll = this.poll(count, controller.signal).finally(() => {
      this.polls.delete(poll);
      this.pump();
    });
    this.polls.set(poll, controller);
  }

  private async poll(count: number, signal: AbortSignal): Promise<void> {
    const requestedAt = this.options.clock.now();
    let answered = false;
    try {
      this.options.onCall?.();
      const { Messages = [] } = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: count,
          WaitTimeSeconds: this.options.waitTimeSeconds,
          VisibilityTimeout: this.options.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      this.consecutiveFailures = 0;
      this.requested -= count;
      answered = true;
      // Even after stop(): the processor hands these straight back.
      if (Messages.length > 0) this.options.onMessages(Messages, requestedAt);
    } catch (thrown) {
      if (!answered) this.requested -= count;
      this.failed(thrown);
    }
  }

  private failed(thrown: unknown): void {
    const kind = classifySqsError(thrown);
    if (kind === 'aborted' || !this.running) return;
    const code = awsCodeOf(thrown);
    const detail = asError(thrown).message;
    if (kind === 'access') {
      this.running = false;
      for (const controller of this.polls.values()) controller.abort();
      this.options.onFatal(new SqsAccessError('ReceiveMessage', this.options.queueUrl, code, detail, { cause: thrown }));
      return;
    }
    this.consecutiveFailures += 1;
    const delayMs = withJitter(exponentialBackoff(this.consecutiveFailures, this.options.retryBackoff));
    const now = this.options.clock.now();
    this.pausedUntil = Math.max(this.pausedUntil, now + delayMs);
    this.cancelResume?.();
    this.cancelResume = startTimer(this.options.clock, this.pausedUntil - now, () => {
      this.pausedUntil = 0;
      this.pump();
    });
    this.options.onError(new SqsCallError('ReceiveMessage', code, this.consecutiveFailures, detail, { cause: thrown }), kind);
  }
}
