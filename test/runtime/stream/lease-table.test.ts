// The lease table's conditional writes against dynalite: a lease goes to exactly one of many workers
// racing for it, only the owner at the current counter can renew, checkpoint or release it, and a
// replay move makes its owner lose it.
import { describe, expect, it } from 'vitest';
import { LeaseTable } from '../../../lib/runtime/stream/lease-table.ts';
import { ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

async function freshTable(): Promise<LeaseTable> {
  return new LeaseTable(local.dynamo.client, await local.dynamo.createLeaseTable());
}

describe('LeaseTable', () => {
  it('gives a lease to exactly one of ten workers taking it at once', async () => {
    const table = await freshTable();
    expect(await table.create({ leaseKey: 'shardId-000000000000', checkpoint: 'TRIM_HORIZON' })).toBe(true);
    expect(await table.create({ leaseKey: 'shardId-000000000000', checkpoint: 'LATEST' })).toBe(false);
    const seen = (await table.get('shardId-000000000000'))!;

    const results = await Promise.all(Array.from({ length: 10 }, (_, index) => table.take(seen, `worker-${index}`)));
    const winners = results.filter((result) => result !== undefined);
    expect(winners).toHaveLength(1);
    const stored = (await table.get('shardId-000000000000'))!;
    expect(stored.leaseOwner).toBe(winners[0]!.leaseOwner);
    expect(stored.leaseCounter).toBe(seen.leaseCounter + 1);
    expect(stored.checkpoint).toEqual({ sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 });
  });

  it('lets only the owner at the current counter renew, checkpoint or release, and counts owner switches like KCL', async () => {
    const table = await freshTable();
    await table.create({ leaseKey: 's', checkpoint: 'TRIM_HORIZON' });
    const a = (await table.take((await table.get('s'))!, 'a'))!;
    expect(a.ownerSwitchesSinceCheckpoint).toBe(0);
    expect(await table.renew('s', a.leaseCounter, 'b')).toBe(false);
    expect(await table.renew('s', a.leaseCounter - 1, 'a')).toBe(false);
    expect(await table.renew('s', a.leaseCounter, 'a')).toBe(true);

    const b = (await table.take((await table.get('s'))!, 'b'))!;
    expect(b.ownerSwitchesSinceCheckpoint).toBe(1);
    expect(await table.checkpoint('s', a.leaseCounter + 1, 'a', { sequenceNumber: '1', subSequenceNumber: 0 })).toBe(false);
    expect(await table.checkpoint('s', b.leaseCounter, 'b', { sequenceNumber: '42', subSequenceNumber: 0 }, { release: true })).toBe(true);
    const released = (await table.get('s'))!;
    expect(released).toMatchObject({ leaseCounter: b.leaseCounter + 1, checkpoint: { sequenceNumber: '42', subSequenceNumber: 0 }, ownerSwitchesSinceCheckpoint: 0 });
    expect(released.leaseOwner).toBeUndefined();
  });

  it('makes two consumers starting together on one shard settle on one owner, each record processed once', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    await local.kinesis.put(streamName, records(200));
    const log = new ProcessingLog();
    const consumers = ['a', 'b'].map((name) => local.consumer({ streamName, leaseTableName, processor: log.processor(name) }));
    for (const consumer of consumers) consumer.start();
    await waitUntil(() => log.seen.length >= 200, 'the records are processed');
    const owners = consumers.filter((consumer) => consumer.heldShards.length > 0);
    expect(owners).toHaveLength(1);
    expect((await table.get('shardId-000000000000'))!.leaseOwner).toBe(owners[0]!.workerId);
    expect([...log.counts().values()].every((count) => count === 1)).toBe(true);
    expect(new Set(log.seen.map((record) => record.by)).size).toBe(1);
  });
});
