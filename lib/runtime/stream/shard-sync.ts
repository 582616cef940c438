// Which shards need a lease. Run at start and every shardSyncIntervalMs, so that shards created
// while nobody read their parent (or before the first start) get leases; children found at a
// shard's end get theirs from the shard reader right away.
import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { TRIM_HORIZON, type Lease, LATEST } from './lease.ts';
import type { NewLease } from './lease-table.ts';
import type { ResolvedInitialPosition } from './stream-consumer-options.ts';

/** Every shard of the stream, open and closed (within retention), following ListShards pages. */
export async function listAllShards(kinesis: KinesisClient, streamName: string, signal?: AbortSignal): Promise<Shard[]> {
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await kinesis.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: streamName }), { abortSignal: signal });
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return shards;
}

export function parentsOf(shard: Shard): string[] {
  return [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => id !== undefined);
}

/**
 * The leases to create, parents before children. A shard whose parent already has a lease starts at
 * TRIM_HORIZON, so nothing after the parent's end is skipped (KCL does the same). Any other shard
 * starts at the initial position, except that with LATEST closed shards get no lease (nothing new
 * can arrive in them). With AT_TIMESTAMP every shard starts at that time.
 */
export function planNewLeases(shards: readonly Shard[], leases: readonly Lease[], initial: ResolvedInitialPosition): NewLease[] {
  const leased = new Set(leases.map((lease) => lease.leaseKey));
  const planned: NewLease[] = [];
  for (const shard of parentsFirst(shards)) {
    const shardId = shard.ShardId!;
    if (leased.has(shardId)) continue;
    const parents = parentsOf(shard);
    const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
    let checkpoint: string;
    if (parents.some((parent) => leases.some((lease) => lease.leaseKey === parent))) checkpoint = TRIM_HORIZON;
    else if (initial.checkpoint === LATEST && closed) continue;
    else checkpoint = initial.checkpoint;
    leased.add(shardId);
    planned.push({
      leaseKey: shardId,
      checkpoint,
      ...(checkpoint === initial.checkpoint && initial.timestamp !== undefined ? { checkpointTimestamp: initial.timestamp } : {}),
      parentShardIds: parents,
      ...(shard.HashKeyRange ? { startingHashKey: shard.HashKeyRange.StartingHashKey, endingHashKey: shard.HashKeyRange.EndingHashKey } : {}),
    });
  }
  return planned;
}

/** Shards ordered so that every parent comes before its children. */
function parentsFirst(shards: readonly Shard[]): Shard[] {
  const byId = new Map(shards.map((shard) => [shard.ShardId!, shard]));
  const ordered: Shard[] = [];
  const visited = new Set<string>();
  const visit = (shard: Shard) => {
    if (visited.has(shard.ShardId!)) return;
    visited.add(shard.ShardId!);
    for (const parent of parentsOf(shard)) {
      const parentShard = byId.get(parent);
      if (parentShard) visit(parentShard);
    }
    ordered.push(shard);
  };
  for (const shard of shards) visit(shard);
  return ordered;
}
