// The queue worker: receives from SQS with as many long polls as keep `concurrency` handlers busy,
// runs each message's handler with a timeout and an abort signal, deletes finished messages in
// batches, backs failed ones off by receive count, keeps running ones invisible with a heartbeat,
// keeps FIFO groups in order, and stops gracefully (see stop()).
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { TypedEmitter } from '../typed-emitter.ts';
import { failureVisibilitySeconds } from './backoff.ts';
import { startTimer } from './clock-timer.ts';
import { asError, HandlerTimeoutError, MessageParseError, QueueProcessorError, type SqsAccessError, StopDeadlineError } from './errors.ts';
import { FifoGroupGate } from './fifo-group-gate.ts';
import type { LogLevel } from '../json-logger.ts';
import { createLease, type MessageLease, visibilitySecondsLeft } from './message-lease.ts';
import type { QueueProcessorCounters, QueueProcessorEvents, SqsOperation, StopSummary } from './queue-processor-events.ts';
import { type QueueProcessorOptions, type ResolvedQueueProcessorOptions, resolveQueueProcessorOptions } from './queue-processor-options.ts';
import { toQueueMessage } from './queue-message.ts';
import { ReceiveLoop } from './receive-loop.ts';
import { type BatchEntry, type BatchOutcome, SqsBatcher } from './sqs-batcher.ts';
import { VisibilityHeartbeat } from './visibility-heartbeat.ts';

export interface StopOptions {
  /**
   * Milliseconds that running handlers get to finish; then their signals are aborted. Match it to
   * the service manager's stop timeout minus a margin for the final SQS calls.
   * @default the processor's stopDeadlineMs (30 seconds)
   */
  readonly deadline?: number;
}

type Phase = 'idle' | 'running' | 'stopping' | 'stopped';

/** How a handler run ended. */
type RunOutcome =
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'failed'; readonly error: Error }
  | { readonly kind: 'aborted-at-deadline' }
  | { readonly kind: 'abandoned'; readonly error: Error };

interface ActiveHandler {
  readonly controller: AbortController;
  readonly startedAt: number;
  /** Set by whoever aborts first: the handler timeout or the stop deadline. */
  abortedBy?: 'timeout' | 'stop';
  done?: Promise<void>;
}

type MutableCounters = { -readonly [Key in keyof Omit<QueueProcessorCounters, 'sqsCalls' | 'inFlight' | 'held'>]: number };

export class QueueProcessor<Body = string> extends TypedEmitter<QueueProcessorEvents> {
  private readonly options: ResolvedQueueProcessorOptions<Body>;
  private phase: Phase = 'idle';
  private readonly gate = new FifoGroupGate<MessageLease>();
  private readonly active = new Map<MessageLease, ActiveHandler>();
  /** Follow-ups of deletes and visibility changes (events, counters) that a stop waits for. */
  private readonly followUps = new Set<Promise<void>>();
  private readonly receiveLoop: ReceiveLoop;
  private readonly deletes: SqsBatcher;
  private readonly visibility: SqsBatcher;
  private readonly heartbeat: VisibilityHeartbeat;
  private readonly counts: MutableCounters = {
    received: 0,
    started: 0,
    processed: 0,
    failed: 0,
    timedOut: 0,
    unparseable: 0,
    returned: 0,
    abortedAtDeadline: 0,
    abandoned: 0,
    deleteFailures: 0,
    visibilityFailures: 0,
    heartbeatExtensions: 0,
    sqsErrors: 0,
    maxInFlight: 0,
  };
  private readonly calls: Record<SqsOperation, number> = { ReceiveMessage: 0, DeleteMessageBatch: 0, ChangeMessageVisibilityBatch: 0 };
  private stopping: Promise<StopSummary> | undefined;
  private readonly stopped: Promise<StopSummary>;
  private resolveStopped!: (summary: StopSummary) => void;

  constructor(options: QueueProcessorOptions<Body>) {
    super();
    this.options = resolveQueueProcessorOptions(options);
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    const { sqs, queueUrl, clock } = this.options;

    this.receiveLoop = new ReceiveLoop({
      sqs,
      queueUrl,
      batchSize: this.options.batchSize,
      concurrency: this.options.concurrency,
      waitTimeSeconds: this.options.waitTimeSeconds,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      retryBackoff: this.options.sqsRetryBackoff,
      clock,
      capacity: () => this.options.concurrency - this.active.size - this.gate.size,
      onCall: () => (this.calls.ReceiveMessage += 1),
      onMessages: (messages, requestedAt) => this.accept(messages, requestedAt),
      onError: (error) => this.reportError(error, 'warn'),
      onFatal: (error) => this.fail(error),
    });

    const batcherOptions = {
      attempts: this.options.batchAttempts,
      retryBackoff: this.options.sqsRetryBackoff,
      clock,
      onCallError: (error: Error) => this.reportError(error, 'warn'),
    };
    this.deletes = new SqsBatcher({
      ...batcherOptions,
      operation: 'DeleteMessageBatch',
      flushDelayMs: this.options.deleteFlushDelayMs,
      send: (entries) => {
        this.calls.DeleteMessageBatch += 1;
        return sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.map(({ Id, receiptHandle }) => ({ Id, ReceiptHandle: receiptHandle })) }));
      },
    });
    this.visibility = new SqsBatcher({
      ...batcherOptions,
      operation: 'ChangeMessageVisibilityBatch',
      // Back-offs and hand-backs are not urgent; heartbeats and stops flush at once.
      flushDelayMs: this.options.deleteFlushDelayMs,
      send: (entries) => {
        this.calls.ChangeMessageVisibilityBatch += 1;
        return sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map(({ Id, receiptHandle, visibilityTimeout }) => ({ Id, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeout ?? 0 })),
        }));
      },
    });

    this.heartbeat = new VisibilityHeartbeat({
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      clock,
      extend: (lease, seconds) => this.visibility.add(entryOf(lease, seconds)),
      flush: () => this.visibility.flush(),
      onExtended: (leases, seconds) => {
        this.counts.heartbeatExtensions += leases.length;
        const messageIds = leases.map((lease) => lease.messageId);
        this.log('debug', 'visibility_extended', { messageIds, visibilityTimeoutSeconds: seconds });
        this.safeEmit('heartbeat', { messageIds, visibilityTimeoutSeconds: seconds });
      },
      onLost: (lease, error) => {
        this.counts.visibilityFailures += 1;
        this.reportError(error, 'warn', lease.messageId);
      },
    });
  }

  /** Starts receiving. Calling it again while running does nothing; after stop() it throws. */
  start(): this {
    if (this.phase === 'running') return this;
    if (this.phase !== 'idle') {
      throw new QueueProcessorError('start() was called after stop(); a stopped QueueProcessor cannot restart, create a new one', 'AlreadyStopped');
    }
    this.phase = 'running';
    this.log('info', 'started', {
      queueUrl: this.options.queueUrl,
      concurrency: this.options.concurrency,
      batchSize: this.options.batchSize,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
    });
    this.heartbeat.start();
    this.receiveLoop.start();
    return this;
  }

  /**
   * Stops gracefully: aborts in-flight long polls at once, starts nothing new, hands received but
   * unstarted messages back with visibility 0, lets running handlers finish until the deadline and
   * then aborts them through their `signal` (handing their messages back), and flushes the deletes.
   * Resolves when everything has settled. Calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<StopSummary> {
    if (this.stopping) return this.stopping;
    if (this.phase === 'idle') {
      this.phase = 'stopped';
      const summary: StopSummary = { reason: 'requested', finishedInTime: 0, returnedUnstarted: 0, abortedAtDeadline: 0, durationMs: 0, counters: this.counters };
      this.resolveStopped(summary);
      this.stopping = Promise.resolve(summary);
      return this.stopping;
    }
    this.stopping = this.shutdown(options.deadline ?? this.options.stopDeadlineMs, 'requested');
    return this.stopping;
  }

  /** Resolves when the processor has stopped, whether stop() was called or SQS refused it (reason `fatal`). */
  whenStopped(): Promise<StopSummary> {
    return this.stopped;
  }

  /** Handlers it runs at once: the `concurrency` option, or its default. */
  get concurrency(): number {
    return this.options.concurrency;
  }

  get counters(): QueueProcessorCounters {
    return { ...this.counts, inFlight: this.active.size, held: this.gate.size, sqsCalls: { ...this.calls } };
  }

  // ---- receiving -------------------------------------------------------------------------------

  private accept(messages: readonly Message[], requestedAt: number): void {
    const leases = messages.map((message) => createLease(message, requestedAt, this.options.visibilityTimeoutSeconds));
    this.counts.received += leases.length;
    if (this.phase !== 'running') {
      // A poll answered just as the stop began.
      this.handBack(leases);
      this.visibility.flush();
      return;
    }
    for (const lease of leases) {
      this.heartbeat.track(lease);
      this.gate.hold(lease);
      this.safeEmit('received', { messageId: lease.messageId, receiveCount: lease.receiveCount, ...(lease.messageGroupId ? { messageGroupId: lease.messageGroupId } : {}) });
    }
    this.dispatch();
  }

  /** Starts waiting messages while slots are free, then lets the receive loop fill the rest. */
  private dispatch(): void {
    while (this.phase === 'running' && this.active.size < this.options.concurrency) {
      const lease = this.gate.next();
      if (!lease) break;
      this.run(lease);
    }
    if (this.phase === 'running') this.receiveLoop.pump();
  }

  // ---- running handlers ------------------------------------------------------------------------

  private run(lease: MessageLease): void {
    const handler: ActiveHandler = { controller: new AbortController(), startedAt: this.options.clock.now() };
    this.active.set(lease, handler);
    this.counts.started += 1;
    this.counts.maxInFlight = Math.max(this.counts.maxInFlight, this.active.size);
    handler.done = this.execute(lease, handler)
      .then((outcome) => this.settle(lease, handler, outcome))
      .catch((error: unknown) => this.reportError(asError(error), 'error', lease.messageId))
      .finally(() => {
        this.active.delete(lease);
        this.gate.finish(lease);
        this.dispatch();
      });
  }

  private async execute(lease: MessageLease, handler: ActiveHandler): Promise<RunOutcome> {
    const { controller } = handler;
    let message;
    try {
      message = toQueueMessage(lease.message, this.options.parse);
    } catch (error) {
      return { kind: 'failed', error: asError(error) };
    }

    const { clock, handlerTimeoutMs, abortGraceMs } = this.options;
    const cancelTimeout = startTimer(clock, handlerTimeoutMs, () => {
      handler.abortedBy ??= 'timeout';
      controller.abort(new HandlerTimeoutError(lease.messageId, handlerTimeoutMs));
    });
    let cancelGrace: (() => void) | undefined;
    // Once aborted, a handler gets abortGraceMs to settle; one that ignores its signal is given up on.
    const givenUp = new Promise<'given-up'>((resolve) => {
      controller.signal.addEventListener('abort', () => (cancelGrace = startTimer(clock, abortGraceMs, () => resolve('given-up'))), { once: true });
    });
    const settled = Promise.resolve()
      .then(() => this.options.handler(message, { signal: controller.signal, receiveCount: lease.receiveCount }))
      .then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error: asError(error) }),
      );
    const result = await Promise.race([settled, givenUp]);
    cancelTimeout();
    cancelGrace?.();

    if (result === 'given-up') return { kind: 'abandoned', error: asError(controller.signal.reason) };
    if (result.ok) return { kind: 'succeeded' };
    if (handler.abortedBy === 'stop') return { kind: 'aborted-at-deadline' };
    if (handler.abortedBy === 'timeout') return { kind: 'failed', error: asError(controller.signal.reason) };
    return { kind: 'failed', error: result.error };
  }

  private settle(lease: MessageLease, handler: ActiveHandler, outcome: RunOutcome): void {
    switch (outcome.kind) {
      case 'succeeded':
        this.delete(lease, this.options.clock.now() - handler.startedAt);
        return;
      case 'failed':
        this.retryLater(lease, outcome.error, this.options.clock.now() - handler.startedAt);
        return;
      case 'aborted-at-deadline':
        this.handBack([lease]);
        return;
      case 'abandoned':
        this.counts.abandoned += 1;
        this.log('warn', 'handler_abandoned', { messageId: lease.messageId, abortGraceMs: this.options.abortGraceMs, reason: outcome.error });
        if (handler.abortedBy === 'timeout') {
          this.retryLater(lease, outcome.error, this.options.clock.now() - handler.startedAt);
        } else {
          // Still running somewhere: handing the message back could run it twice at once.
          this.heartbeat.untrack(lease);
        }
    }
  }

  // ---- settling messages -----------------------------------------------------------------------

  private delete(lease: MessageLease, durationMs: number): void {
    this.followUp(this.deletes.add(entryOf(lease)), (outcome) => {
      this.heartbeat.untrack(lease);
      if (outcome.ok) {
        this.counts.processed += 1;
        this.log('debug', 'message_processed', { messageId: lease.messageId, receiveCount: lease.receiveCount, durationMs });
        this.safeEmit('processed', { messageId: lease.messageId, receiveCount: lease.receiveCount, durationMs });
      } else {
        this.counts.deleteFailures += 1;
        this.reportError(outcome.error, 'warn', lease.messageId);
      }
    });
  }

  /** A failed message stays invisible for its back-off; FIFO messages of its group that wait behind it go back to SQS. */
  private retryLater(lease: MessageLease, error: Error, durationMs: number): void {
    this.counts.failed += 1;
    if (error instanceof HandlerTimeoutError) this.counts.timedOut += 1;
    if (error instanceof MessageParseError) this.counts.unparseable += 1;
    this.heartbeat.untrack(lease);
    const retryInSeconds = Math.min(failureVisibilitySeconds(lease.receiveCount, this.options.failureBackoff), visibilitySecondsLeft(lease, this.options.clock.now()));
    this.log('warn', 'message_failed', { messageId: lease.messageId, receiveCount: lease.receiveCount, retryInSeconds, error });
    this.safeEmit('failed', { messageId: lease.messageId, receiveCount: lease.receiveCount, error, retryInSeconds, durationMs });
    this.changeVisibility(lease, retryInSeconds);
    if (lease.messageGroupId !== undefined) this.handBack(this.gate.takeGroup(lease.messageGroupId));
  }

  /** Makes messages visible again at once (visibility 0) for another receive. */
  private handBack(leases: readonly MessageLease[]): void {
    for (const lease of leases) {
      this.heartbeat.untrack(lease);
      this.counts.returned += 1;
      this.changeVisibility(lease, 0);
    }
  }

  private changeVisibility(lease: MessageLease, seconds: number): void {
    this.followUp(this.visibility.add(entryOf(lease, seconds)), (outcome) => {
      if (outcome.ok) return;
      this.counts.visibilityFailures += 1;
      this.reportError(outcome.error, 'warn', lease.messageId);
    });
  }

  private followUp(outcome: Promise<BatchOutcome>, then: (outcome: BatchOutcome) => void): void {
    const followUp = outcome.then(then).catch((error: unknown) => this.reportError(asError(error), 'error'));
    this.followUps.add(followUp);
    void followUp.finally(() => this.followUps.delete(followUp));
  }

  // ---- stopping ----------------------------------------------------------------------------------

  private fail(error: SqsAccessError): void {
    this.reportError(error, 'error');
    this.stopping ??= this.shutdown(this.options.stopDeadlineMs, 'fatal', error);
  }

  private async shutdown(deadlineMs: number, reason: StopSummary['reason'], error?: Error): Promise<StopSummary> {
    const stopStartedAt = this.options.clock.now();
    this.phase = 'stopping';
    this.log(reason === 'fatal' ? 'error' : 'info', 'stopping', { reason, deadlineMs, running: this.active.size, held: this.gate.size, ...(error ? { error } : {}) });

    const pollsSettled = this.receiveLoop.stop();
    const unstarted = this.gate.takeAll();
    this.handBack(unstarted);
    this.visibility.flush();

    const runningAtStop = [...this.active.values()];
    await this.handlersSettled(runningAtStop, deadlineMs);
    const late = [...this.active.entries()];
    for (const [lease, handler] of late) {
      handler.abortedBy ??= 'stop';
      handler.controller.abort(new StopDeadlineError(lease.messageId, deadlineMs));
    }
    this.counts.abortedAtDeadline += late.length;
    await Promise.all(late.map(([, handler]) => handler.done));
    await pollsSettled;

    // Deletes and visibility changes trigger follow-ups; loop until nothing is left in flight.
    while (this.deletes.size > 0 || this.visibility.size > 0 || this.followUps.size > 0) {
      await Promise.all([this.deletes.drain(), this.visibility.drain()]);
      await Promise.all(this.followUps);
    }
    this.heartbeat.stop();
    this.phase = 'stopped';

    const summary: StopSummary = {
      reason,
      ...(error ? { error } : {}),
      finishedInTime: runningAtStop.length - late.length,
      returnedUnstarted: unstarted.length,
      abortedAtDeadline: late.length,
      durationMs: this.options.clock.now() - stopStartedAt,
      counters: this.counters,
    };
    this.log(reason === 'fatal' ? 'error' : 'info', 'stopped', { ...summary, counters: undefined, ...summary.counters });
    this.safeEmit('stopped', summary);
    this.resolveStopped(summary);
    return summary;
  }

  /** Waits until the given handlers have settled or `deadlineMs` has passed. */
  private async handlersSettled(handlers: readonly ActiveHandler[], deadlineMs: number): Promise<void> {
    let cancelDeadline: (() => void) | undefined;
    const deadline = new Promise<void>((resolve) => (cancelDeadline = startTimer(this.options.clock, deadlineMs, resolve)));
    await Promise.race([Promise.all(handlers.map((handler) => handler.done)), deadline]);
    cancelDeadline?.();
  }

  // ---- reporting ---------------------------------------------------------------------------------

  private reportError(error: Error, level: LogLevel, messageId?: string): void {
    if (error.name === 'SqsCallError' || error.name === 'SqsAccessError') this.counts.sqsErrors += 1;
    this.log(level, 'error', { error, ...(messageId ? { messageId } : {}) });
    this.safeEmit('error', { error, ...(messageId ? { messageId } : {}) });
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    this.options.logger.log(level, event, { queueUrl: this.options.queueUrl, ...fields });
  }

  /** A listener that throws must not break the processor; an `error` event nobody listens to is already logged. */
  private safeEmit<Name extends keyof QueueProcessorEvents & string>(name: Name, payload: QueueProcessorEvents[Name]): void {
    try {
      this.emit(name, payload);
    } catch (listenerError) {
      if ((listenerError as { code?: string }).code === 'ERR_UNHANDLED_ERROR') return;
      this.options.logger.log('error', 'listener_failed', { event: name, error: asError(listenerError) });
    }
  }
}

function entryOf(lease: MessageLease, visibilityTimeout?: number): BatchEntry {
  return { messageId: lease.messageId, receiptHandle: lease.receiptHandle, ...(visibilityTimeout === undefined ? {} : { visibilityTimeout }) };
}
