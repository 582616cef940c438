// A shard's lease as KCL 2.x keeps it in DynamoDB, and the positions a checkpoint can hold.

/** Checkpoint values that are not sequence numbers (KCL's SentinelCheckpoint). */
export const TRIM_HORIZON = 'TRIM_HORIZON';
export const LATEST = 'LATEST';
export const AT_TIMESTAMP = 'AT_TIMESTAMP';
export const SHARD_END = 'SHARD_END';

export type SentinelCheckpoint = typeof TRIM_HORIZON | typeof LATEST | typeof AT_TIMESTAMP | typeof SHARD_END;

const SENTINELS: ReadonlySet<string> = new Set([TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END]);

/** Kinesis sequence numbers are decimal strings of up to 128 digits. */
const SEQUENCE_NUMBER = /^\d{1,128}$/;

export function isSentinel(checkpoint: string): checkpoint is SentinelCheckpoint {
  return SENTINELS.has(checkpoint);
}

export function isSequenceNumber(value: string): boolean {
  return SEQUENCE_NUMBER.test(value);
}

/** A checkpoint: a sequence number (the last record processed) or a sentinel. */
export interface Checkpoint {
  readonly sequenceNumber: string;
  /** KCL's position inside an aggregated record; 0 for plain records and sentinels. */
  readonly subSequenceNumber: number;
}

/** One item of the lease table, with the attributes KCL 2.x defines. */
export interface Lease {
  /** The shard id. */
  readonly leaseKey: string;
  /** @default - none: the lease is free to take */
  readonly leaseOwner?: string;
  /** Bumped by every write; observers judge expiry by it. */
  readonly leaseCounter: number;
  readonly checkpoint: Checkpoint;
  readonly ownerSwitchesSinceCheckpoint: number;
  /** Empty for a shard with no parent; two for a shard made by a merge. */
  readonly parentShardIds: readonly string[];
  /** Written at shard end. */
  readonly childShardIds: readonly string[];
  readonly startingHashKey?: string;
  readonly endingHashKey?: string;
  /**
   * sluice's addition for a checkpoint of `AT_TIMESTAMP` (written by a replay to a time, or when the
   * lease was created with an AT_TIMESTAMP initial position): the time to read from, in milliseconds
   * since the epoch. KCL ignores it and reads from its own configured timestamp instead.
   * @default - the consumer's configured initial timestamp
   */
  readonly checkpointTimestamp?: number;
}

export function isFinished(lease: Lease): boolean {
  return lease.checkpoint.sequenceNumber === SHARD_END;
}
