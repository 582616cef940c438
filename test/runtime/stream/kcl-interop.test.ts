// A lease table handed over from KCL 2.x (with attributes KCL 3.x adds) and back: the consumer
// resumes from KCL's checkpoints, leaves what it does not own alone, and writes KCL's names and types.
import { type AttributeValue, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ProcessingLog, records, TEST_LEASE_MS, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

/** The attributes KCL 2.x's DynamoDBLeaseSerializer writes, with their DynamoDB types. */
const KCL_ATTRIBUTE_TYPES: Record<string, 'S' | 'N' | 'SS'> = {
  leaseKey: 'S',
  leaseOwner: 'S',
  leaseCounter: 'N',
  checkpoint: 'S',
  checkpointSubSequenceNumber: 'N',
  ownerSwitchesSinceCheckpoint: 'N',
  parentShardId: 'SS',
  childShardIds: 'SS',
  startingHashKey: 'S',
  endingHashKey: 'S',
};

const typeOf = (value: AttributeValue) => Object.keys(value)[0];

describe('KCL interoperability', () => {
  it('resumes from a KCL 2.x table (sentinel and real checkpoints, a parent at SHARD_END) and keeps the attributes it does not own', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    await local.kinesis.put(streamName, records(20, { prefix: 'parent' }));
    await local.kinesis.splitShard(streamName, 'shardId-000000000000');
    const written = await local.kinesis.put(streamName, records(200, { prefix: 'child', keys: 50 }));
    const shards = await local.kinesis.listShards(streamName);
    const [parent, left, right] = shards;
    const leftRecords = written.filter((result) => result.shardId === left!.ShardId);
    const rightRecords = written.filter((result) => result.shardId === right!.ShardId);
    expect(leftRecords.length).toBeGreaterThan(10);
    expect(rightRecords.length).toBeGreaterThan(0);
    const leftCheckpoint = leftRecords[9]!.sequenceNumber;

    // As KCL 2.x leaves a table: a worker processed the parent to its end and ten records of the left
    // child, then died. KCL 3.x attributes are present too.
    const range = (shard: (typeof shards)[number]) => ({ startingHashKey: { S: shard.HashKeyRange!.StartingHashKey! }, endingHashKey: { S: shard.HashKeyRange!.EndingHashKey! } });
    const kclItems: Record<string, AttributeValue>[] = [
      {
        leaseKey: { S: parent!.ShardId! },
        leaseOwner: { S: 'kcl-worker-1' },
        leaseCounter: { N: '117' },
        checkpoint: { S: 'SHARD_END' },
        checkpointSubSequenceNumber: { N: '0' },
        ownerSwitchesSinceCheckpoint: { N: '0' },
        childShardIds: { SS: [left!.ShardId!, right!.ShardId!] },
        ...range(parent!),
      },
      {
        leaseKey: { S: left!.ShardId! },
        leaseOwner: { S: 'kcl-worker-1' },
        leaseCounter: { N: '31' },
        checkpoint: { S: leftCheckpoint },
        checkpointSubSequenceNumber: { N: '0' },
        ownerSwitchesSinceCheckpoint: { N: '2' },
        parentShardId: { SS: [parent!.ShardId!] },
        throughputKBps: { N: '12.5' },
        leaseTableVersion: { S: 'v3' },
        ...range(left!),
      },
      {
        leaseKey: { S: right!.ShardId! },
        leaseOwner: { S: 'kcl-worker-1' },
        leaseCounter: { N: '8' },
        checkpoint: { S: 'TRIM_HORIZON' },
        checkpointSubSequenceNumber: { N: '0' },
        ownerSwitchesSinceCheckpoint: { N: '0' },
        parentShardId: { SS: [parent!.ShardId!] },
        checkpointOwner: { S: 'kcl-worker-1' },
        throughputKBps: { N: '3' },
        ...range(right!),
      },
    ];
    for (const item of kclItems) await local.dynamo.client.send(new PutItemCommand({ TableName: leaseTableName, Item: item }));

    const log = new ProcessingLog();
    const startedAt = Date.now();
    const consumer = local.consumer({ streamName, leaseTableName, processor: log.processor('sluice') }).start();
    await waitUntil(() => log.seen.length >= leftRecords.length - 10 + rightRecords.length, 'the children are processed from their checkpoints', 10_000);
    // KCL's worker looks alive until its counters stay put for a lease duration: one lease is stolen
    // at once for balance (target ceil(2 / 2)), the other is taken only once it has expired.
    const firstRecordAt = (shardId: string) => Math.min(...log.seen.filter((record) => record.shardId === shardId).map((record) => record.at));
    expect(Math.max(firstRecordAt(left!.ShardId!), firstRecordAt(right!.ShardId!)) - startedAt).toBeGreaterThanOrEqual(TEST_LEASE_MS);
    await consumer.stop();

    expect(log.seen.some((record) => record.data.startsWith('parent'))).toBe(false);
    expect(log.seen.filter((record) => record.shardId === left!.ShardId).map((record) => record.sequenceNumber)).toEqual(leftRecords.slice(10).map((result) => result.sequenceNumber));
    expect(log.seen.filter((record) => record.shardId === right!.ShardId).map((record) => record.sequenceNumber)).toEqual(rightRecords.map((result) => result.sequenceNumber));

    const item = async (leaseKey: string) => (await local.dynamo.client.send(new GetItemCommand({ TableName: leaseTableName, Key: { leaseKey: { S: leaseKey } } }))).Item!;
    // The parent was finished: nobody took or wrote it.
    expect(await item(parent!.ShardId!)).toEqual(kclItems[0]);
    const leftAfter = await item(left!.ShardId!);
    expect(leftAfter).toMatchObject({
      checkpoint: { S: leftRecords.at(-1)!.sequenceNumber },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      parentShardId: { SS: [parent!.ShardId!] },
      throughputKBps: { N: '12.5' },
      leaseTableVersion: { S: 'v3' },
      ...range(left!),
    });
    // Released at stop: KCL (or sluice) takes it at once.
    expect(leftAfter.leaseOwner).toBeUndefined();
    expect(Number(leftAfter.leaseCounter!.N)).toBeGreaterThan(31);
    const rightAfter = await item(right!.ShardId!);
    expect(rightAfter).toMatchObject({ checkpoint: { S: rightRecords.at(-1)!.sequenceNumber }, checkpointOwner: { S: 'kcl-worker-1' }, throughputKBps: { N: '3' } });
  });

  it('writes leases with exactly KCL 2.x attribute names and types', async () => {
    const { streamName, leaseTableName } = await local.fixture(2);
    await local.kinesis.put(streamName, records(40));
    await local.kinesis.splitShard(streamName, 'shardId-000000000000');
    await local.kinesis.put(streamName, records(40, { from: 40 }));
    const log = new ProcessingLog();
    const consumer = local.consumer({ streamName, leaseTableName, processor: log.processor('sluice') }).start();
    await waitUntil(() => log.seen.length >= 80, 'every record is processed');

    const scan = async () => (await local.dynamo.client.send(new ScanCommand({ TableName: leaseTableName, ConsistentRead: true }))).Items!;
    const held = await scan();
    await consumer.stop();
    const items = [...held, ...(await scan())];
    expect(new Set((await scan()).map((item) => item.leaseKey!.S))).toEqual(new Set(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']));
    for (const item of items) {
      for (const [name, value] of Object.entries(item)) {
        expect(KCL_ATTRIBUTE_TYPES[name], `attribute ${name} is one KCL 2.x writes`).toBeDefined();
        expect(typeOf(value), `attribute ${name}`).toBe(KCL_ATTRIBUTE_TYPES[name]);
      }
      for (const required of ['leaseKey', 'leaseCounter', 'checkpoint', 'checkpointSubSequenceNumber', 'ownerSwitchesSinceCheckpoint']) expect(item[required], required).toBeDefined();
    }
    const byKey = new Map((await scan()).map((item) => [item.leaseKey!.S!, item]));
    expect(byKey.get('shardId-000000000000')).toMatchObject({ checkpoint: { S: 'SHARD_END' }, childShardIds: { SS: ['shardId-000000000002', 'shardId-000000000003'] } });
    expect(byKey.get('shardId-000000000002')).toMatchObject({ parentShardId: { SS: ['shardId-000000000000'] } });
    expect(byKey.get('shardId-000000000002')!.checkpoint!.S).toMatch(/^\d+$/);
    expect(held.some((item) => item.leaseOwner?.S === consumer.workerId)).toBe(true);
  });
});
