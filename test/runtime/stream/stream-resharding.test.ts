// Resharding while producing, read by two workers: a split and a merge skip no record, every child
// is read only after all of its parents were read to their end, and each partition key's records are
// processed in the order they were produced. kinesalite has no ChildShards, so children come from
// ListShards here.
import { describe, expect, it } from 'vitest';
import { ProcessingLog, produce, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

describe('StreamConsumer resharding', () => {
  it('reads parents before children through a split and a merge, skipping nothing and keeping order per partition key', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(2);
    const producer = produce(local.kinesis, streamName, { everyMs: 15, batch: 8 });
    const log = new ProcessingLog();
    const workers = ['a', 'b'].map((name) => local.consumer({ streamName, leaseTableName, processor: log.processor(name), maxRecordsPerCall: 50 }).start());
    const processedSoFar = () => log.distinct().size;

    await waitUntil(() => processedSoFar() > 100, 'records flow');
    await local.kinesis.splitShard(streamName, 'shardId-000000000000');
    const afterSplit = producer.sent.length;
    await waitUntil(() => processedSoFar() > afterSplit + 100, 'records flow after the split');
    // shardId-000000000003 (upper half of the split shard) and shardId-000000000001 are adjacent.
    await local.kinesis.mergeShards(streamName, 'shardId-000000000003', 'shardId-000000000001');
    const afterMerge = producer.sent.length;
    await waitUntil(() => processedSoFar() > afterMerge + 100, 'records flow after the merge');
    await producer.stop();
    await waitUntil(() => producer.sent.every((data) => log.distinct().has(data)), 'every record produced is processed', 10_000);
    await Promise.all(workers.map((worker) => worker.stop()));

    // First occurrences: a lease moving between workers may repeat its uncheckpointed tail.
    const firstSeen = new Map<string, (typeof log.seen)[number]>();
    for (const record of log.seen) if (!firstSeen.has(record.data)) firstSeen.set(record.data, record);
    const first = [...firstSeen.values()];

    const shards = await local.kinesis.listShards(streamName);
    const children = shards.filter((shard) => shard.ParentShardId !== undefined);
    expect(children.map((shard) => shard.ShardId).sort()).toEqual(['shardId-000000000002', 'shardId-000000000003', 'shardId-000000000004']);
    for (const child of children) {
      const parents = [child.ParentShardId!, ...(child.AdjacentParentShardId ? [child.AdjacentParentShardId] : [])];
      const childStart = Math.min(...log.seen.filter((record) => record.shardId === child.ShardId).map((record) => record.at));
      for (const parent of parents) {
        const parentEnd = Math.max(...first.filter((record) => record.shardId === parent).map((record) => record.at));
        expect(parentEnd, `${parent} is done before ${child.ShardId} starts`).toBeLessThanOrEqual(childStart);
      }
    }

    const indexOf = (data: string) => Number(data.slice(data.lastIndexOf('-') + 1));
    const byKey = new Map<string, number[]>();
    for (const record of first) byKey.set(record.partitionKey, [...(byKey.get(record.partitionKey) ?? []), indexOf(record.data)]);
    for (const [key, order] of byKey) expect(order, `order of ${key}`).toEqual([...order].sort((x, y) => x - y));
    expect(new Set(log.seen.map((record) => record.by))).toEqual(new Set(['a', 'b']));

    const leases = new Map((await table.list()).map((lease) => [lease.leaseKey, lease]));
    expect(leases.get('shardId-000000000000')).toMatchObject({ checkpoint: { sequenceNumber: 'SHARD_END' }, childShardIds: ['shardId-000000000002', 'shardId-000000000003'] });
    expect(leases.get('shardId-000000000001')).toMatchObject({ checkpoint: { sequenceNumber: 'SHARD_END' }, childShardIds: ['shardId-000000000004'] });
    expect([...leases.get('shardId-000000000004')!.parentShardIds].sort()).toEqual(['shardId-000000000001', 'shardId-000000000003']);
  });
});
