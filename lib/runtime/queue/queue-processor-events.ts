// What a QueueProcessor reports: its events, its counters, and the summary of a stop.

/** The SQS operations the processor calls. */
export type SqsOperation = 'ReceiveMessage' | 'DeleteMessageBatch' | 'ChangeMessageVisibilityBatch';

export interface QueueProcessorCounters {
  /** Messages received from SQS. */
  readonly received: number;
  /** Messages taken into a handler slot (unparseable ones included, though their handler never runs). */
  readonly started: number;
  /** Messages handled and deleted. */
  readonly processed: number;
  /** Handler threw, timed out, or the body could not be parsed (each is also counted below). */
  readonly failed: number;
  readonly timedOut: number;
  readonly unparseable: number;
  /** Messages handed back with visibility 0: unstarted at stop, FIFO followers of a failure, aborted at the stop deadline. */
  readonly returned: number;
  /** Handlers whose signal was aborted at the stop deadline. */
  readonly abortedAtDeadline: number;
  /** Handlers that did not settle within abortGraceMs of their abort; their slot was freed anyway. */
  readonly abandoned: number;
  /** Deletes SQS refused or that ran out of retries (those messages will be processed again). */
  readonly deleteFailures: number;
  /** Visibility changes (back-off, hand-back, heartbeat) SQS refused or that ran out of retries. */
  readonly visibilityFailures: number;
  /** Successful heartbeat extensions, one per message per extension. */
  readonly heartbeatExtensions: number;
  /** Failed SQS calls (each retry counts). */
  readonly sqsErrors: number;
  /** Handlers running now. */
  readonly inFlight: number;
  /** Received messages waiting for a slot (or, FIFO, for their group) now. */
  readonly held: number;
  /** The most handlers that ever ran at once. */
  readonly maxInFlight: number;
  /** SQS calls made, per operation. */
  readonly sqsCalls: Readonly<Record<SqsOperation, number>>;
}

export interface StopSummary {
  /** `requested`: stop() was called; `fatal`: SQS refused the worker (see `error`). */
  readonly reason: 'requested' | 'fatal';
  readonly error?: Error;
  /** Handlers that were running when the stop began and finished (either way) before the deadline. */
  readonly finishedInTime: number;
  /** Received-but-unstarted messages handed back with visibility 0. */
  readonly returnedUnstarted: number;
  /** Handlers aborted at the deadline (their messages handed back unless they completed after all). */
  readonly abortedAtDeadline: number;
  /** From stop() to everything settled. */
  readonly durationMs: number;
  readonly counters: QueueProcessorCounters;
}

export interface QueueProcessorEvents extends Record<string, unknown> {
  received: { readonly messageId: string; readonly receiveCount: number; readonly messageGroupId?: string };
  /** The handler resolved and SQS deleted the message. */
  processed: { readonly messageId: string; readonly receiveCount: number; readonly durationMs: number };
  /** The handler threw or timed out, or the body could not be parsed; the message comes back after `retryInSeconds`. */
  failed: {
    readonly messageId: string;
    readonly receiveCount: number;
    readonly error: Error;
    readonly retryInSeconds: number;
    /** From the handler's start to its failure (its timeout included); about 0 for a body that could not be parsed. */
    readonly durationMs: number;
  };
  /** A heartbeat round extended these messages' visibility. */
  heartbeat: { readonly messageIds: readonly string[]; readonly visibilityTimeoutSeconds: number };
  /** Something went wrong outside a handler (an SQS call, a lost lease); the processor carries on unless it stops. */
  error: { readonly error: Error; readonly messageId?: string };
  stopped: StopSummary;
}
