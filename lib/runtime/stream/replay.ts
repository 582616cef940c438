// Replay: move checkpoints back while consumers run. Each move is conditional on the counter it read
// and removes the owner (see LeaseTable.moveCheckpoint): the running owner loses the lease at its next
// renewal or scan without checkpointing, and whichever worker takes it next reads from the new
// position, within a lease scan interval. Moving every lease keeps resharding order: a child whose
// parent moved back waits until that parent reaches SHARD_END again.
import { ReplayRefusedError } from './errors.ts';
import { type Checkpoint, isSequenceNumber } from './lease.ts';
import type { LeaseTable, ReplayPosition } from './lease-table.ts';

export interface ReplayResult {
  readonly shardId: string;
  readonly from: Checkpoint;
  /** The owner that loses the lease. */
  readonly previousOwner?: string;
}

export interface ReplayOptions {
  /** @default - every lease in the table */
  readonly shardIds?: readonly string[];
  /**
   * Tries per lease: an owner renews every third of the lease duration, so a move may find the
   * counter changed since it was read, and reads it again.
   * @default 10
   */
  readonly attempts?: number;
}

/** Checks the request against the table first (refusing with every problem, before any write), then moves each lease. */
export async function replayLeases(table: LeaseTable, position: ReplayPosition, options: ReplayOptions = {}): Promise<ReplayResult[]> {
  const leases = await table.list();
  const known = new Set(leases.map((lease) => lease.leaseKey));
  const problems: string[] = [];
  const unknown = (options.shardIds ?? []).filter((shardId) => !known.has(shardId));
  if (unknown.length > 0) problems.push(`shard ${unknown.join(', ')} has no lease in ${table.tableName} (known: ${[...known].join(', ') || 'none'})`);
  if (position.kind === 'after-sequence-number') {
    if (!isSequenceNumber(position.sequenceNumber)) problems.push(`the sequence number must be 1–128 digits (given "${position.sequenceNumber}")`);
    if (options.shardIds?.length !== 1) problems.push('a replay from a sequence number needs exactly one shard: a sequence number belongs to one shard');
  }
  if (position.kind === 'timestamp' && Number.isNaN(position.timestamp.getTime())) problems.push('the timestamp must be a valid time');
  if (problems.length > 0) throw new ReplayRefusedError(problems);

  const targets = options.shardIds ? leases.filter((lease) => options.shardIds!.includes(lease.leaseKey)) : leases;
  const results: ReplayResult[] = [];
  for (let lease of targets) {
    const from = lease.checkpoint;
    const previousOwner = lease.leaseOwner;
    for (let attempt = 1; ; attempt++) {
      if (await table.moveCheckpoint(lease, position)) break;
      if (attempt >= (options.attempts ?? 10)) throw new Error(`the lease of ${lease.leaseKey} kept changing while it was moved (${attempt} tries); run the replay again`);
      lease = (await table.get(lease.leaseKey)) ?? lease;
    }
    results.push({ shardId: lease.leaseKey, from, ...(previousOwner !== undefined ? { previousOwner } : {}) });
  }
  return results;
}
