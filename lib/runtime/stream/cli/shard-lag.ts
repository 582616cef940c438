// How far a lease's checkpoint is behind its shard, for `sluice stream status`: the age of the first
// record after the checkpoint — the oldest record the consumer still has to process, which is what
// CloudWatch's GetRecords.IteratorAgeMilliseconds and the consumer's MillisBehindLatest measure once
// it reads there. One GetShardIterator and one GetRecords (Limit 1) per shard: a record count would
// mean reading the whole backlog, and Kinesis reports no latest sequence number to subtract from.
import { GetRecordsCommand, GetShardIteratorCommand, type GetShardIteratorCommandInput, type KinesisClient } from '@aws-sdk/client-kinesis';
import { awsCodeOf } from '../aws-error-kind.ts';
import { AT_TIMESTAMP, LATEST, type Lease, SHARD_END, TRIM_HORIZON } from '../lease.ts';

export type ShardLag =
  /** Milliseconds between now and the arrival of the first record after the checkpoint. */
  | { readonly kind: 'behind'; readonly ms: number }
  /** Nothing after the checkpoint (or only the end of a closed shard). */
  | { readonly kind: 'caught-up' }
  /** The checkpoint is SHARD_END: the shard is done, its children are read. */
  | { readonly kind: 'finished' }
  /** Kinesis no longer has the shard (past retention). */
  | { readonly kind: 'gone' }
  /** The read failed; `reason` is the AWS error code. */
  | { readonly kind: 'unknown'; readonly reason: string };

/** The lag of `lease`'s checkpoint; `now` in milliseconds since the epoch (arrival times are wall-clock). */
export async function shardLag(kinesis: KinesisClient, streamName: string, lease: Lease, now: number): Promise<ShardLag> {
  if (lease.checkpoint.sequenceNumber === SHARD_END) return { kind: 'finished' };
  try {
    const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand(iteratorAt(streamName, lease)));
    const answer = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
    const first = answer.Records?.[0];
    if (first?.ApproximateArrivalTimestamp) return { kind: 'behind', ms: Math.max(0, now - first.ApproximateArrivalTimestamp.getTime()) };
    // No record here but more further on (an empty stretch of a long backlog), as Kinesis reports it.
    if (answer.NextShardIterator && (answer.MillisBehindLatest ?? 0) > 0) return { kind: 'behind', ms: answer.MillisBehindLatest! };
    return { kind: 'caught-up' };
  } catch (error) {
    const code = awsCodeOf(error);
    return code === 'ResourceNotFoundException' ? { kind: 'gone' } : { kind: 'unknown', reason: code };
  }
}

/** Where the lease's next reader starts, as the consumer reads a checkpoint. */
function iteratorAt(streamName: string, lease: Lease): GetShardIteratorCommandInput {
  const base = { StreamName: streamName, ShardId: lease.leaseKey };
  const { sequenceNumber, subSequenceNumber } = lease.checkpoint;
  if (sequenceNumber === TRIM_HORIZON || sequenceNumber === LATEST) return { ...base, ShardIteratorType: sequenceNumber };
  if (sequenceNumber === AT_TIMESTAMP) {
    // A KCL-written AT_TIMESTAMP carries no time: the consumer then reads from TRIM_HORIZON.
    return lease.checkpointTimestamp === undefined ? { ...base, ShardIteratorType: TRIM_HORIZON } : { ...base, ShardIteratorType: AT_TIMESTAMP, Timestamp: new Date(lease.checkpointTimestamp) };
  }
  return { ...base, ShardIteratorType: subSequenceNumber > 0 ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: sequenceNumber };
}
