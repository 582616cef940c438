// `sluice stream status`: every shard of the stream and every lease of the table, side by side —
// who owns it, where its checkpoint is, its lease counter (it moves while the owner is alive), its
// parents and children, and its lag (see shard-lag.ts).
import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import { formatDuration } from '../../duration.ts';
import { type Lease, SHARD_END } from '../lease.ts';
import type { LeaseTable } from '../lease-table.ts';
import { listAllShards, parentsOf } from '../shard-sync.ts';
import { type ShardLag, shardLag } from './shard-lag.ts';

export interface ShardStatus {
  readonly shardId: string;
  /** @default - none: the lease is free, or the shard has no lease */
  readonly owner?: string;
  /** @default - none: the shard has no lease yet (a consumer creates it at its next shard sync) */
  readonly checkpoint?: string;
  readonly counter?: number;
  readonly parentShardIds: readonly string[];
  /** From the lease (written at shard end) and from ListShards (known as soon as the shard is split or merged). */
  readonly childShardIds: readonly string[];
  /** `open` takes new records; `closed` was split or merged; `gone` is past retention (only its lease is left). */
  readonly state: 'open' | 'closed' | 'gone';
  /** @default - none for a shard without a lease */
  readonly lag?: ShardLag;
}

export interface StreamStatus {
  readonly streamName: string;
  readonly leaseTableName: string;
  readonly shards: readonly ShardStatus[];
}

/** Lags are read this many shards at a time. */
const LAG_CONCURRENCY = 10;

export async function readStreamStatus(kinesis: KinesisClient, table: LeaseTable, streamName: string, now: () => number): Promise<StreamStatus> {
  const [shards, leases] = await Promise.all([listAllShards(kinesis, streamName), table.list()]);
  const byId = new Map<string, { shard?: Shard; lease?: Lease }>();
  for (const shard of shards) byId.set(shard.ShardId!, { shard });
  for (const lease of leases) byId.set(lease.leaseKey, { ...byId.get(lease.leaseKey), lease });
  const childrenOf = new Map<string, string[]>();
  for (const shard of shards) for (const parent of parentsOf(shard)) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), shard.ShardId!]);

  const ids = [...byId.keys()].sort();
  const lags = new Map<string, ShardLag>();
  for (let start = 0; start < ids.length; start += LAG_CONCURRENCY) {
    await Promise.all(
      ids.slice(start, start + LAG_CONCURRENCY).map(async (shardId) => {
        const { shard, lease } = byId.get(shardId)!;
        if (!lease) return;
        lags.set(shardId, shard ? await shardLag(kinesis, streamName, lease, now()) : lease.checkpoint.sequenceNumber === SHARD_END ? { kind: 'finished' } : { kind: 'gone' });
      }),
    );
  }
  return {
    streamName,
    leaseTableName: table.tableName,
    shards: ids.map((shardId): ShardStatus => {
      const { shard, lease } = byId.get(shardId)!;
      const lag = lags.get(shardId);
      return {
        shardId,
        ...(lease?.leaseOwner !== undefined ? { owner: lease.leaseOwner } : {}),
        ...(lease ? { checkpoint: lease.checkpoint.sequenceNumber, counter: lease.leaseCounter } : {}),
        parentShardIds: lease && lease.parentShardIds.length > 0 ? lease.parentShardIds : shard ? parentsOf(shard) : [],
        childShardIds: [...new Set([...(lease?.childShardIds ?? []), ...(childrenOf.get(shardId) ?? [])])].sort(),
        state: !shard ? 'gone' : shard.SequenceNumberRange?.EndingSequenceNumber !== undefined ? 'closed' : 'open',
        ...(lag ? { lag } : {}),
      };
    }),
  };
}

/** The status as a table for people: one line per shard, columns as wide as their widest value. */
export function formatStreamStatus(status: StreamStatus): string[] {
  const owners = new Set(status.shards.map((shard) => shard.owner).filter((owner) => owner !== undefined));
  const rows = status.shards.map((shard) => [
    shard.shardId,
    shard.state,
    shard.owner ?? (shard.checkpoint === undefined ? '(no lease)' : '(free)'),
    shard.checkpoint ?? '-',
    shard.counter === undefined ? '-' : String(shard.counter),
    shard.parentShardIds.join(',') || '-',
    shard.childShardIds.join(',') || '-',
    lagText(shard.lag),
  ]);
  const header = ['SHARD', 'STATE', 'OWNER', 'CHECKPOINT', 'COUNTER', 'PARENTS', 'CHILDREN', 'LAG'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [
    `Stream ${status.streamName}, lease table ${status.leaseTableName}: ${status.shards.length} shard(s), ${owners.size} worker(s) holding leases`,
    line(header),
    ...rows.map(line),
  ];
}

/** The status as JSON for scripts: lag in milliseconds (null when there is none to give) with its kind. */
export function streamStatusJson(status: StreamStatus): Record<string, unknown> {
  return {
    streamName: status.streamName,
    leaseTableName: status.leaseTableName,
    shards: status.shards.map((shard) => ({
      shardId: shard.shardId,
      state: shard.state,
      owner: shard.owner ?? null,
      checkpoint: shard.checkpoint ?? null,
      leaseCounter: shard.counter ?? null,
      parentShardIds: shard.parentShardIds,
      childShardIds: shard.childShardIds,
      lag: shard.lag?.kind ?? null,
      lagMs: shard.lag?.kind === 'behind' ? shard.lag.ms : shard.lag?.kind === 'caught-up' ? 0 : null,
      ...(shard.lag?.kind === 'unknown' ? { lagError: shard.lag.reason } : {}),
    })),
  };
}

function lagText(lag: ShardLag | undefined): string {
  if (!lag) return '-';
  switch (lag.kind) {
    case 'behind':
      return formatDuration(lag.ms);
    case 'caught-up':
      return 'caught up';
    case 'finished':
      return 'finished';
    case 'gone':
      return 'gone (past retention)';
    case 'unknown':
      return `unknown (${lag.reason})`;
  }
}
