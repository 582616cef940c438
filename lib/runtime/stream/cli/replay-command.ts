// `sluice stream replay`: checks the request against the stream and the lease table (every problem
// at once, before any write), shows what will move, asks for confirmation, then moves the leases one
// by one with the stream subsystem's replayLeases, reporting each, so a failure part-way says exactly
// which shards moved.
import { DescribeStreamSummaryCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { formatDuration } from '../../duration.ts';
import { problemsMessage } from '../../command-line.ts';
import { awsCodeOf } from '../aws-error-kind.ts';
import { ReplayRefusedError } from '../errors.ts';
import type { Lease } from '../lease.ts';
import type { LeaseTable, ReplayPosition } from '../lease-table.ts';
import { replayLeases } from '../replay.ts';
import { listAllShards } from '../shard-sync.ts';
import type { ReplayFrom } from './parse-stream-args.ts';
import { StreamCliInputError } from './stream-cli-input-error.ts';

export interface ReplayRequest {
  readonly kinesis: KinesisClient;
  readonly table: LeaseTable;
  readonly streamName: string;
  readonly from: ReplayFrom;
  /** @default - every lease */
  readonly shardIds?: readonly string[];
  /** Wall-clock now, for the retention check. */
  readonly now: number;
}

export interface ReplayPlan {
  readonly position: ReplayPosition;
  readonly leases: readonly Lease[];
  /** The position in words, e.g. `TRIM_HORIZON` or `2024-05-01T12:00:00.000Z`. */
  readonly describe: string;
}

/** Checks the request; throws StreamCliInputError listing every problem. Reads only. */
export async function planReplay(request: ReplayRequest): Promise<ReplayPlan> {
  const { kinesis, table, streamName, from } = request;
  const [summary, shards, leases] = await Promise.all([
    kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName })).then((answer) => answer.StreamDescriptionSummary),
    listAllShards(kinesis, streamName),
    table.list(),
  ]);
  const problems: string[] = [];
  const shardIds = new Set(shards.map((shard) => shard.ShardId!));
  const leased = new Map(leases.map((lease) => [lease.leaseKey, lease]));
  if (leases.length === 0) problems.push(`lease table ${table.tableName} has no leases yet: no consumer has read ${streamName}, so there is nothing to move back`);
  for (const shardId of request.shardIds ?? []) {
    if (leased.has(shardId)) continue;
    problems.push(
      shardIds.has(shardId)
        ? `shard ${shardId} has no lease yet: a consumer creates it at its next shard sync, starting from its initial position`
        : `shard ${shardId} is not a shard of ${streamName} (its shards: ${[...shardIds].sort().join(', ') || 'none'})`,
    );
  }

  if (from.kind === 'timestamp') {
    const retentionHours = summary?.RetentionPeriodHours ?? 24;
    const oldest = request.now - retentionHours * 3_600_000;
    if (from.timestamp.getTime() > request.now) problems.push(`--from ${from.text} is in the future: nothing would be replayed`);
    else if (from.timestamp.getTime() < oldest) {
      problems.push(
        `--from ${from.text} is outside the stream's retention of ${retentionHours} h (records before ${new Date(oldest).toISOString()} are gone); use --from trim-horizon to replay everything still kept`,
      );
    }
  }
  if (from.kind === 'after-sequence-number' && problems.length === 0) {
    // Kinesis itself knows whether the number belongs to the shard (it encodes the shard).
    const shardId = request.shardIds![0]!;
    try {
      await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: from.sequenceNumber }));
    } catch (error) {
      if (awsCodeOf(error) !== 'InvalidArgumentException') throw error;
      problems.push(`sequence number ${from.sequenceNumber} is not one of shard ${shardId} (Kinesis: ${(error as Error).message})`);
    }
  }
  if (problems.length > 0) throw new StreamCliInputError(problemsMessage(problems));

  const position: ReplayPosition = from.kind === 'timestamp' ? { kind: 'timestamp', timestamp: from.timestamp } : from;
  return {
    position,
    leases: request.shardIds ? request.shardIds.map((shardId) => leased.get(shardId)!) : leases,
    describe: from.kind === 'trim-horizon' ? 'TRIM_HORIZON' : from.kind === 'timestamp' ? from.timestamp.toISOString() : `after ${from.sequenceNumber}`,
  };
}

/** What will move, for the confirmation. */
export function formatReplayPlan(plan: ReplayPlan, streamName: string, leaseTableName: string, leaseDurationMs = 10_000): string[] {
  const width = Math.max(...plan.leases.map((lease) => lease.leaseKey.length));
  return [
    `Replay of ${streamName} (lease table ${leaseTableName}) from ${plan.describe}:`,
    ...plan.leases.map((lease) => `  ${lease.leaseKey.padEnd(width)}  ${lease.checkpoint.sequenceNumber} → ${plan.describe}${lease.leaseOwner ? `  (${lease.leaseOwner} loses the lease)` : ''}`),
    `Running consumers stop these shards without a checkpoint; whoever takes them next reads from the new position, within one lease duration (${formatDuration(leaseDurationMs)} by default).`,
    'The records from there on are processed again, by the same processor: it must tolerate repeats.',
  ];
}

export interface ReplayOutcome {
  readonly moved: readonly string[];
  /** Set when a move failed; the leases after it were not moved. */
  readonly failure?: { readonly shardId: string; readonly error: Error };
}

/** Moves each lease of the plan in turn; stops at the first failure. */
export async function executeReplay(table: LeaseTable, plan: ReplayPlan, onMoved: (shardId: string, lease: Lease) => void): Promise<ReplayOutcome> {
  const moved: string[] = [];
  for (const lease of plan.leases) {
    try {
      await replayLeases(table, plan.position, { shardIds: [lease.leaseKey] });
    } catch (error) {
      // A lease deleted since the plan was read is refused by replayLeases; either way it did not move.
      return { moved, failure: { shardId: lease.leaseKey, error: error instanceof ReplayRefusedError ? new Error(error.problems.join('; ')) : (error as Error) } };
    }
    moved.push(lease.leaseKey);
    onMoved(lease.leaseKey, lease);
  }
  return { moved };
}
