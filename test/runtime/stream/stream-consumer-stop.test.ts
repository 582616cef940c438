// Stopping: the batch in hand finishes and is checkpointed, the leases are released; at the deadline
// the batch's signal is aborted and nothing of it is checkpointed; start() and stop() are safe twice.
import { describe, expect, it } from 'vitest';
import { StopDeadlineError, StreamConsumerError } from '../../../lib/runtime/stream/errors.ts';
import { ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

describe('StreamConsumer stop', () => {
  it('finishes the batch in hand, checkpoints its last record and releases the lease in one write', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    const put = await local.kinesis.put(streamName, records(30));
    let started = false;
    const log = new ProcessingLog();
    const consumer = local.consumer({
      streamName,
      leaseTableName,
      maxRecordsPerCall: 30,
      // Nothing is checkpointed during the run: only the stop does.
      checkpointIntervalMs: 60_000,
      processor: log.processor('a', async () => {
        started = true;
        await new Promise((resolve) => setTimeout(resolve, 400));
      }),
    }).start();
    await waitUntil(() => started, 'the batch is being processed');
    const summary = await consumer.stop({ deadline: 5_000 });

    expect(log.seen).toHaveLength(30);
    expect(summary).toMatchObject({ reason: 'requested', released: 1, abortedAtDeadline: 0 });
    const lease = (await table.get('shardId-000000000000'))!;
    expect(lease.checkpoint.sequenceNumber).toBe(put.at(-1)!.sequenceNumber);
    expect(lease.leaseOwner).toBeUndefined();
  });

  it('aborts the batch\'s signal at the deadline, does not checkpoint it, and the next owner processes it again', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    await local.kinesis.put(streamName, records(10));
    let abortReason: unknown;
    let inHand = false;
    const stuck = local.consumer({
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
    await waitUntil(() => inHand, 'the batch is in hand');
    const summary = await stuck.stop({ deadline: 200 });

    expect(abortReason).toBeInstanceOf(StopDeadlineError);
    expect(summary).toMatchObject({ abortedAtDeadline: 1, released: 1 });
    expect((await table.get('shardId-000000000000'))!.checkpoint.sequenceNumber).toBe('TRIM_HORIZON');
    const log = new ProcessingLog();
    local.consumer({ streamName, leaseTableName, processor: log.processor('next') }).start();
    await waitUntil(() => log.seen.length === 10, 'the next owner processes the batch');
  });

  it('is safe to start and stop twice, and refuses a start after stop', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    const consumer = local.consumer({ streamName, leaseTableName, processor: async () => undefined });
    expect(consumer.start()).toBe(consumer.start());
    await waitUntil(() => consumer.heldShards.length === 1, 'the lease is taken');
    const stopping = consumer.stop();
    expect(consumer.stop()).toBe(stopping);
    expect((await stopping).released).toBe(1);
    expect(await consumer.whenStopped()).toBe(await stopping);
    expect(() => consumer.start()).toThrow(StreamConsumerError);
    expect(() => consumer.start()).toThrow(/cannot restart, create a new one/);
  });
});
