// FIFO queues: one message per group in flight, and order per group kept even when a message fails
// (the later messages of its group are handed back instead of overtaking it).
import { describe, expect, it } from 'vitest';
import { recordingHandler, useLocalSqsWorkers, waitUntil, work } from './processor-harness.ts';

const workers = useLocalSqsWorkers();

describe('QueueProcessor on a FIFO queue', () => {
  it('keeps the order within each group under failures, one message per group at a time, groups in parallel', async () => {
    const { queueUrl } = await workers.sqs.createQueue({ fifo: true, maxReceiveCount: 5 });
    const groups = ['a', 'b', 'c', 'd'];
    const perGroup = 6;
    // Interleaved as producers would send them.
    const messages = Array.from({ length: perGroup }, (_, index) => groups.map((group) => ({ body: `${group}:${index}`, groupId: group }))).flat();
    await workers.sqs.send(queueUrl, messages);

    const inFlightPerGroup = new Map<string, number>();
    let overlapInGroup = false;
    const { handler, record } = recordingHandler(async (message, { signal, receiveCount }) => {
      const group = message.messageGroupId!;
      const running = (inFlightPerGroup.get(group) ?? 0) + 1;
      inFlightPerGroup.set(group, running);
      if (running > 1) overlapInGroup = true;
      try {
        await work(20, signal);
        // The third message of every group fails on its first try.
        if (message.body.endsWith(':2') && receiveCount === 1) throw new Error('downstream refused');
      } finally {
        inFlightPerGroup.set(group, running - 1);
      }
    });

    const processor = workers.processor({ queueUrl, handler, concurrency: 8, failureBackoff: { initialSeconds: 1, maxSeconds: 1 } }).start();
    await waitUntil(() => processor.counters.processed === messages.length, 'every message is processed', 15_000);
    const summary = await processor.stop();

    for (const group of groups) {
      const order = record.completed.filter((body) => body.startsWith(`${group}:`));
      expect(order).toEqual(Array.from({ length: perGroup }, (_, index) => `${group}:${index}`));
    }
    expect(overlapInGroup).toBe(false);
    expect(record.maxInFlight).toBeGreaterThan(1);
    expect(summary.counters).toMatchObject({ processed: 24, failed: 4 });
    // Each failure handed back the messages waiting behind it in its group.
    expect(summary.counters.returned).toBeGreaterThan(0);
    expect([...record.starts.entries()].filter(([, starts]) => starts > 1).map(([body]) => body).sort()).toEqual(['a:2', 'b:2', 'c:2', 'd:2']);
  });
});
