// What a StreamConsumer reports: its events, its counters, and the summary of a stop.

export interface StreamConsumerCounters {
  /** Records the processor finished (records sent to the failure queue not included). */
  readonly recordsProcessed: number;
  readonly batchesProcessed: number;
  /** Failed processor runs (each retry counts). */
  readonly batchFailures: number;
  readonly recordsSentToFailureQueue: number;
  /** Checkpoint writes that succeeded. */
  readonly checkpoints: number;
  /** Leases this worker holds now. */
  readonly leasesHeld: number;
  readonly leasesTaken: number;
  /** Of leasesTaken, those taken from a live worker for balance. */
  readonly leasesStolen: number;
  readonly leasesLost: number;
  readonly leasesReleased: number;
  /** Per shard this worker reads: how far behind the tip of the shard its last GetRecords answer was. */
  readonly millisBehindLatest: Readonly<Record<string, number>>;
  readonly getRecordsCalls: number;
  /** Failed AWS calls (each retry counts), throttling included. */
  readonly awsErrors: number;
}

export interface StopSummary {
  /** `requested`: stop() was called; `fatal`: AWS refused the consumer (see `error`). */
  readonly reason: 'requested' | 'fatal';
  readonly error?: Error;
  /** Shards whose batch in hand was aborted at the deadline. */
  readonly abortedAtDeadline: number;
  /** Leases released (owner removed, after a final checkpoint) for other workers to take at once. */
  readonly released: number;
  readonly durationMs: number;
  readonly counters: StreamConsumerCounters;
}

export type CheckpointReason = 'interval' | 'stop' | 'shard-end';

export interface StreamConsumerEvents extends Record<string, unknown> {
  /** This worker took a lease and starts reading the shard. */
  leaseTaken: { readonly shardId: string; readonly previousOwner?: string; readonly stolen: boolean };
  /** Taken by another worker, moved by a replay, or not renewed in time; the shard stopped without a checkpoint. */
  leaseLost: { readonly shardId: string; readonly reason: string };
  /** Released at stop, after its final checkpoint. */
  leaseReleased: { readonly shardId: string };
  checkpoint: { readonly shardId: string; readonly sequenceNumber: string; readonly subSequenceNumber: number; readonly reason: CheckpointReason };
  batchProcessed: { readonly shardId: string; readonly records: number; readonly millisBehindLatest: number; readonly durationMs: number };
  /** The processor failed on the records from `sequenceNumber` on; `retryInMs` says when it runs again. */
  batchFailed: { readonly shardId: string; readonly sequenceNumber: string; readonly records: number; readonly attempt: number; readonly error: Error; readonly retryInMs: number };
  /** A record that kept failing went to the failure queue; its shard moves on. */
  sentToFailureQueue: { readonly shardId: string; readonly sequenceNumber: string; readonly error: Error };
  /** The shard is closed and fully processed; its children can now be read. */
  shardEnded: { readonly shardId: string; readonly childShardIds: readonly string[] };
  /** Something went wrong outside the processor (an AWS call); the consumer carries on unless it stops. */
  error: { readonly error: Error; readonly shardId?: string };
  stopped: StopSummary;
}
