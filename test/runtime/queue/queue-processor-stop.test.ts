// stop(): long polls aborted at once, nothing new started, unstarted messages handed back, running
// handlers finished until the deadline and aborted after it, deletes flushed, safe to call twice.
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { QueueProcessorError, StopDeadlineError } from '../../../lib/runtime/queue/errors.ts';
import { bodies, recordingHandler, useLocalSqsWorkers, waitUntil, work } from './processor-harness.ts';

const workers = useLocalSqsWorkers();

async function receiveNow(queueUrl: string) {
  const { Messages = [] } = await workers.sqs.client.send(new ReceiveMessageCommand({
    QueueUrl: queueUrl,
    MaxNumberOfMessages: 10,
    WaitTimeSeconds: 0,
    VisibilityTimeout: 30,
    MessageSystemAttributeNames: ['ApproximateReceiveCount'],
  }));
  return Messages;
}

describe('QueueProcessor.stop', () => {
  it('aborts an idle long poll at once instead of waiting out its 20 seconds', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    const processor = workers.processor({ queueUrl, handler: async () => undefined, waitTimeSeconds: 20 }).start();
    await waitUntil(() => processor.counters.sqsCalls.ReceiveMessage > 0, 'a poll is in flight');

    const started = Date.now();
    const summary = await processor.stop();

    expect(Date.now() - started).toBeLessThan(500);
    expect(summary).toMatchObject({ reason: 'requested', finishedInTime: 0, returnedUnstarted: 0, abortedAtDeadline: 0 });
  });

  it('lets running handlers finish, flushes their deletes at once, and starts nothing new', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, bodies(4));
    const { handler, record } = recordingHandler(async (_message, { signal }) => work(300, signal));
    // A long flush delay shows that the stop sends the deletes rather than waiting for the timer.
    const processor = workers.processor({ queueUrl, handler, concurrency: 4, deleteFlushDelayMs: 10_000 }).start();
    await waitUntil(() => record.inFlight === 4, 'all four run');
    await workers.sqs.send(queueUrl, ['arrives-during-stop']);

    const started = Date.now();
    const summary = await processor.stop({ deadline: 5_000 });

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(record.completed).toHaveLength(4);
    expect(record.starts.has('arrives-during-stop')).toBe(false);
    expect(summary).toMatchObject({ finishedInTime: 4, abortedAtDeadline: 0, counters: { processed: 4, inFlight: 0 } });
    // The four are deleted; only the newcomer is left.
    expect((await workers.sqs.depth(queueUrl)).inFlight + (await workers.sqs.depth(queueUrl)).visible).toBe(1);
  });

  it('aborts handlers still running at the deadline through their signal and hands their messages back', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, bodies(3, 'long'));
    const reasons: unknown[] = [];
    const { handler, record } = recordingHandler(async (_message, { signal }) => {
      try {
        await work(60_000, signal);
      } finally {
        reasons.push(signal.reason);
      }
    });
    // Concurrency 3 leaves no poll in flight once the three run. An aborted poll lives on inside SQS
    // and would take the handed-back messages for a visibility timeout (see local-workers.sqs.test.ts).
    const processor = workers.processor({ queueUrl, handler, concurrency: 3 }).start();
    await waitUntil(() => record.inFlight === 3, 'all three run');

    const started = Date.now();
    const summary = await processor.stop({ deadline: 300 });

    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(reasons).toHaveLength(3);
    expect(reasons.every((reason) => reason instanceof StopDeadlineError)).toBe(true);
    expect(summary).toMatchObject({ finishedInTime: 0, abortedAtDeadline: 3, counters: { returned: 3, processed: 0, failed: 0 } });
    // Handed back with visibility 0: another worker gets them at once, on their second receive.
    const back = await receiveNow(queueUrl);
    expect(back.map((message) => message.Body).sort()).toEqual(bodies(3, 'long'));
    expect(back.map((message) => message.Attributes?.ApproximateReceiveCount)).toEqual(['2', '2', '2']);
  });

  it('gives up on a handler that ignores its signal after the grace period, leaving its message to the visibility timeout', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, ['stubborn']);
    let release!: () => void;
    const { handler, record } = recordingHandler(() => new Promise<void>((resolve) => (release = resolve)));
    const processor = workers.processor({ queueUrl, handler, abortGraceMs: 200 }).start();
    await waitUntil(() => record.inFlight === 1, 'the handler runs');

    const started = Date.now();
    const summary = await processor.stop({ deadline: 100 });
    release();

    expect(Date.now() - started).toBeLessThan(800);
    expect(summary.counters).toMatchObject({ abandoned: 1, returned: 0 });
    // Not handed back: it might still be running somewhere, so it must not run twice at once.
    expect(await workers.sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 1 });
  });

  it('hands received but unstarted messages back with visibility 0', async () => {
    // FIFO makes messages wait deterministically: one group runs one message at a time.
    const { queueUrl } = await workers.sqs.createQueue({ fifo: true, maxReceiveCount: 0 });
    await workers.sqs.send(queueUrl, bodies(5, 'g').map((body) => ({ body, groupId: 'g' })));
    const { handler, record } = recordingHandler(async (_message, { signal }) => work(300, signal));
    // Concurrency 5 leaves no poll in flight once all five are in (see the test above).
    const processor = workers.processor({ queueUrl, handler, concurrency: 5 }).start();
    await waitUntil(() => record.inFlight === 1 && processor.counters.held === 4, 'one runs and four wait behind it');
    expect(processor.counters.sqsCalls.ReceiveMessage).toBe(1);

    const summary = await processor.stop({ deadline: 5_000 });

    expect(record.completed).toEqual(['g-0']);
    expect(summary).toMatchObject({ returnedUnstarted: 4, finishedInTime: 1, counters: { returned: 4, processed: 1 } });
    const back = await receiveNow(queueUrl);
    expect(back.map((message) => message.Body)).toEqual(['g-1', 'g-2', 'g-3', 'g-4']);
  });

  it('is safe to call twice, before start, and refuses a restart', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    const neverStarted = workers.processor({ queueUrl, handler: async () => undefined });
    expect((await neverStarted.stop()).durationMs).toBe(0);

    const processor = workers.processor({ queueUrl, handler: async () => undefined }).start();
    const stopped: unknown[] = [];
    processor.on('stopped', (summary) => stopped.push(summary));
    const first = processor.stop();
    const second = processor.stop({ deadline: 0 });

    expect(second).toBe(first);
    expect(await processor.whenStopped()).toBe(await first);
    expect(stopped).toHaveLength(1);
    expect(() => processor.start()).toThrow(QueueProcessorError);
    expect(() => processor.start()).toThrow(/cannot restart, create a new one/);
  });
});
