// Several workers on one stream: they settle at an even split, a killed worker's shards move to the
// survivor within 1.5 lease durations, a gracefully stopped worker's shards are read by another within
// a second, and a crash followed by a restart skips nothing and repeats only the uncheckpointed tail.
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../../lib/runtime/stream/errors.ts';
import { SHARD_END } from '../../../lib/runtime/stream/lease.ts';
import { ProcessingLog, produce, records, TEST_LEASE_MS, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

describe('StreamConsumer failover and handoff', () => {
  it('settles two workers at 2/2, moves a killed worker\'s shards within 1.5 lease durations and a stopped worker\'s within 1 s', async () => {
    const { streamName, leaseTableName } = await local.fixture(4);
    const producer = produce(local.kinesis, streamName);
    const log = new ProcessingLog();
    const a = local.consumer({ streamName, leaseTableName, processor: log.processor('a') }).start();
    await waitUntil(() => a.heldShards.length === 4, 'the first worker holds every shard');
    const b = local.consumer({ streamName, leaseTableName, processor: log.processor('b') }).start();
    await waitUntil(() => a.heldShards.length === 2 && b.heldShards.length === 2, 'the workers settle at 2/2', 5_000);

    // A kill: no final checkpoint, no release; the survivor waits for the leases to expire.
    const killedAt = Date.now();
    await a.abandon();
    await waitUntil(() => b.heldShards.length === 4, 'the survivor owns all four shards', 3 * TEST_LEASE_MS);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(1.5 * TEST_LEASE_MS);

    const c = local.consumer({ streamName, leaseTableName, processor: log.processor('c') }).start();
    await waitUntil(() => b.heldShards.length === 2 && c.heldShards.length === 2, 'a new worker gets half', 5_000);
    const handedOver = c.heldShards;
    const stoppedAt = Date.now();
    const summary = await c.stop();
    expect(summary.released).toBe(2);
    await waitUntil(() => handedOver.every((shardId) => log.seen.some((record) => record.by === 'b' && record.shardId === shardId && record.at >= stoppedAt)), 'the other worker reads the released shards', 3_000);
    for (const shardId of handedOver) {
      const firstRead = Math.min(...log.seen.filter((record) => record.by === 'b' && record.shardId === shardId && record.at >= stoppedAt).map((record) => record.at));
      expect(firstRead - stoppedAt).toBeLessThanOrEqual(1_000);
    }

    await producer.stop();
    await waitUntil(() => producer.sent.every((data) => log.distinct().has(data)), 'every record produced is processed');
  });

  it('after a crash and a restart skips nothing and repeats only what was processed after the last checkpoint', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(2);
    const producer = produce(local.kinesis, streamName, { everyMs: 10 });
    const log = new ProcessingLog();
    const slowly = async () => new Promise<void>((resolve) => setTimeout(resolve, 15));
    const first = local.consumer({ streamName, leaseTableName, processor: log.processor('first', slowly), maxRecordsPerCall: 20, checkpointIntervalMs: 400 }).start();
    await waitUntil(() => first.counters.checkpoints >= 2 && log.seen.length > 150, 'the first worker has checkpointed a few times');
    await first.abandon();
    const checkpoints = new Map((await table.list()).map((lease) => [lease.leaseKey, lease.checkpoint.sequenceNumber]));
    const seenByFirst = [...log.seen];

    const second = local.consumer({ streamName, leaseTableName, processor: log.processor('second') }).start();
    await producer.stop();
    await waitUntil(() => producer.sent.every((data) => log.distinct().has(data)), 'every record produced is processed', 10_000);
    await second.stop();

    const tail = seenByFirst.filter((record) => {
      const checkpoint = checkpoints.get(record.shardId)!;
      return checkpoint === 'TRIM_HORIZON' || (checkpoint !== SHARD_END && BigInt(record.sequenceNumber) > BigInt(checkpoint));
    });
    const repeated = [...log.counts()].filter(([, count]) => count > 1).map(([data]) => data);
    expect(repeated.sort()).toEqual(tail.map((record) => record.data).sort());
    expect([...log.counts().values()].every((count) => count <= 2)).toBe(true);
  });

  it('stops a shard at once when its lease is taken, aborting the batch in hand and never checkpointing it again', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    await local.kinesis.put(streamName, records(50));
    let abortReason: unknown;
    let inHand = false;
    const consumer = local.consumer({
      streamName,
      leaseTableName,
      processor: (_records, { signal }) =>
        new Promise((_resolve, reject) => {
          inHand = true;
          signal.addEventListener('abort', () => {
            abortReason = signal.reason;
            reject(signal.reason);
          });
        }),
    }).start();
    const lost: string[] = [];
    consumer.on('leaseLost', ({ shardId }) => lost.push(shardId));
    await waitUntil(() => inHand, 'a batch is in hand');

    // Another worker takes the lease (as a steal or a takeover after a missed renewal would).
    const taken = (await table.take((await table.get('shardId-000000000000'))!, 'intruder'))!;
    await waitUntil(() => lost.length === 1, 'the consumer notices', 2 * TEST_LEASE_MS);
    expect(abortReason).toBeInstanceOf(LeaseLostError);
    expect(consumer.heldShards).toEqual([]);
    // The intruder stays alive (renewing); the consumer writes nothing more to the lease meanwhile.
    let counter = taken.leaseCounter;
    for (const endAt = Date.now() + TEST_LEASE_MS; Date.now() < endAt; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await table.renew('shardId-000000000000', counter, 'intruder')).toBe(true);
      counter += 1;
    }
    expect(await table.get('shardId-000000000000')).toEqual({ ...taken, leaseCounter: counter });
    expect((await consumer.stop()).released).toBe(0);
  });
});
