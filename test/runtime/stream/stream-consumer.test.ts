// The stream consumer against kinesalite and dynalite: every record once and in order per shard in
// a normal run, few calls while idle, and a prompt first record.
import { describe, expect, it } from 'vitest';
import { ascending, ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

describe('StreamConsumer', () => {
  it('processes every record exactly once, in sequence order per shard, in a normal run', async () => {
    const { streamName, leaseTableName } = await local.fixture(3);
    const log = new ProcessingLog();
    const consumer = local.consumer({ streamName, leaseTableName, processor: log.processor('a'), maxRecordsPerCall: 100 }).start();
    const sent = records(1_500);
    const put = await local.kinesis.put(streamName, sent.slice(0, 700));
    // Records produced while the consumer runs as well as the backlog.
    put.push(...(await local.kinesis.put(streamName, sent.slice(700))));
    await waitUntil(() => log.seen.length >= sent.length, 'every record is processed');
    const summary = await consumer.stop();

    expect([...log.counts().values()].every((count) => count === 1)).toBe(true);
    expect(log.distinct()).toEqual(new Set(sent.map((record) => String(record.data))));
    const byShard = log.sequencesByShard();
    expect([...byShard.keys()].sort()).toEqual(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']);
    for (const sequence of byShard.values()) expect(ascending(sequence)).toBe(true);
    // Each shard's records in exactly the order Kinesis gave them their sequence numbers.
    for (const [shardId, sequence] of byShard) {
      expect(sequence).toEqual(put.filter((result) => result.shardId === shardId).map((result) => BigInt(result.sequenceNumber)).sort((a, b) => (a < b ? -1 : 1)));
    }
    expect(summary.counters.recordsProcessed).toBe(sent.length);
    expect(summary.released).toBe(3);
  });
});
