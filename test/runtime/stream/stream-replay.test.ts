// Replay while consumers run: moving every checkpoint back to TRIM_HORIZON, or to a time, makes the
// running workers lose their leases and the records from that position on are processed again — none
// of them skipped, none before the position repeated. Bad requests change nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReplayRefusedError } from '../../../lib/runtime/stream/errors.ts';
import { replayLeases } from '../../../lib/runtime/stream/replay.ts';
import { ProcessingLog, records, TEST_LEASE_MS, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

describe('replayLeases', () => {
  it('replays from TRIM_HORIZON and then from a timestamp while two consumers run', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(2);
    const early = records(150, { prefix: 'early' });
    await local.kinesis.put(streamName, early);
    await sleep(50);
    const boundary = new Date();
    await sleep(50);
    const late = records(150, { prefix: 'late' });
    await local.kinesis.put(streamName, late);
    const all = [...early, ...late].map((record) => String(record.data));

    const log = new ProcessingLog();
    const workers = ['a', 'b'].map((name) => local.consumer({ streamName, leaseTableName, processor: log.processor(name) }).start());
    const countOf = (data: string) => log.counts().get(data) ?? 0;
    await waitUntil(() => all.every((data) => countOf(data) >= 1), 'everything is processed once');
    await sleep(2 * 300); // a checkpoint interval or two, so that the replay really moves checkpoints back

    const movedAt = Date.now();
    const moved = await replayLeases(table, { kind: 'trim-horizon' });
    expect(moved.map((result) => result.shardId).sort()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(moved.every((result) => result.previousOwner !== undefined)).toBe(true);
    await waitUntil(() => all.every((data) => countOf(data) >= 2), 'everything is processed again', 5_000);
    // Resumed within one lease duration, not after the leases expired.
    expect(Math.max(...all.map((data) => log.seen.filter((record) => record.data === data)[1]!.at)) - movedAt).toBeLessThan(TEST_LEASE_MS + 1_000);
    // The moved leases may change hands once more for balance (repeating an uncheckpointed tail): let that settle.
    await waitUntil(() => workers.every((worker) => worker.heldShards.length === 1), 'the workers hold a shard each', 5_000);
    await sleep(2 * 300);

    const earlyCounts = early.map((record) => countOf(String(record.data)));
    const lateCounts = late.map((record) => countOf(String(record.data)));
    await replayLeases(table, { kind: 'timestamp', timestamp: boundary });
    await waitUntil(() => late.every((record, index) => countOf(String(record.data)) > lateCounts[index]!), 'the records after the time are processed again', 5_000);
    await sleep(300);
    expect(early.map((record) => countOf(String(record.data)))).toEqual(earlyCounts);
    await Promise.all(workers.map((worker) => worker.stop()));
  });

  it('refuses an unknown shard or a malformed sequence number before writing anything', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(2);
    const consumer = local.consumer({ streamName, leaseTableName, processor: async () => undefined }).start();
    await waitUntil(() => consumer.heldShards.length === 2, 'the leases exist and are held');
    await consumer.stop();
    const before = await table.list();

    await expect(replayLeases(table, { kind: 'trim-horizon' }, { shardIds: ['shardId-000000000000', 'shardId-000000000009'] })).rejects.toThrow(ReplayRefusedError);
    await expect(replayLeases(table, { kind: 'after-sequence-number', sequenceNumber: '12x' }, { shardIds: ['shardId-000000000000'] })).rejects.toThrow(
      /sequence number must be 1–128 digits \(given "12x"\)/,
    );
    await expect(replayLeases(table, { kind: 'after-sequence-number', sequenceNumber: '123' })).rejects.toThrow(/needs exactly one shard/);
    expect(await table.list()).toEqual(before);
  });
});
