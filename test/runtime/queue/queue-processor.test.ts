// The queue worker against local-aws-sqs: nothing lost, nothing done twice, concurrency as configured,
// slow handlers kept invisible, failures backed off, poison messages to the DLQ, SQS errors survived.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError, MessageParseError, SqsAccessError, SqsCallError } from '../../../lib/runtime/queue/errors.ts';
import { bodies, capturingLogger, recordingHandler, useLocalSqsWorkers, waitUntil, work } from './processor-harness.ts';

const workers = useLocalSqsWorkers();

describe('QueueProcessor', () => {
  it('processes every message exactly once in a normal run, in few API calls per message', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    const sent = bodies(400);
    await workers.sqs.send(queueUrl, sent);
    workers.sqs.resetRequestCounts();
    const { handler, record } = recordingHandler(async (_message, { signal }) => work(Math.random() * 20, signal));

    const processor = workers.processor({ queueUrl, handler, concurrency: 20 }).start();
    await waitUntil(() => processor.counters.processed === sent.length, 'all messages are processed and deleted');
    const summary = await processor.stop();

    expect([...record.completed].sort()).toEqual([...sent].sort());
    expect([...record.starts.values()].every((starts) => starts === 1)).toBe(true);
    expect(await workers.sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(summary.counters).toMatchObject({ received: 400, started: 400, processed: 400, failed: 0, returned: 0, deleteFailures: 0 });
    const calls = workers.sqs.requestCounts();
    // Full receives and full delete batches: about 0.1 + 0.1 calls per message under a backlog.
    expect(((calls.ReceiveMessage ?? 0) + (calls.DeleteMessageBatch ?? 0)) / sent.length).toBeLessThan(0.3);
    expect(calls.DeleteMessage).toBeUndefined();
  });

  it('never runs more handlers than the concurrency, and runs that many under a backlog', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, bodies(150));
    const { handler, record } = recordingHandler(async (_message, { signal }) => work(40, signal));

    const processor = workers.processor({ queueUrl, handler, concurrency: 24 }).start();
    await waitUntil(() => processor.counters.processed === 150, 'all messages are processed');

    expect(record.maxInFlight).toBe(24);
    expect(processor.counters.maxInFlight).toBe(24);
  });

  it('keeps a message invisible while its handler outlasts the visibility timeout, so no other worker gets it', async () => {
    const { queueUrl } = await workers.sqs.createQueue({ visibilityTimeoutSeconds: 1 });
    await workers.sqs.send(queueUrl, bodies(3, 'slow'));
    const { handler, record } = recordingHandler(async (_message, { signal }) => work(2_500, signal));
    const heartbeats: string[] = [];

    // Two workers compete for the queue: a lapse in visibility would hand a message to the second.
    const first = workers.processor({ queueUrl, handler, visibilityTimeoutSeconds: 1 }).start();
    first.on('heartbeat', ({ messageIds }) => heartbeats.push(...messageIds));
    await waitUntil(() => record.inFlight === 3, 'the first worker runs all three');
    const second = workers.processor({ queueUrl, handler, visibilityTimeoutSeconds: 1 }).start();
    await waitUntil(() => first.counters.processed === 3, 'the slow messages are processed', 8_000);

    expect([...record.starts.values()]).toEqual([1, 1, 1]);
    expect(second.counters.received).toBe(0);
    expect([...record.receiveCounts.values()].flat()).toEqual([1, 1, 1]);
    expect(new Set(heartbeats).size).toBe(3);
  });

  it('redelivers a failed message with a delay that grows with its receive count', async () => {
    const { queueUrl } = await workers.sqs.createQueue({ maxReceiveCount: 5 });
    await workers.sqs.send(queueUrl, ['flaky']);
    const { handler, record } = recordingHandler(async (_message, { receiveCount }) => {
      if (receiveCount < 3) throw new Error(`downstream unavailable (attempt ${receiveCount})`);
    });
    const failures: { receiveCount: number; retryInSeconds: number }[] = [];

    const processor = workers.processor({ queueUrl, handler, failureBackoff: { initialSeconds: 1, maxSeconds: 10 } }).start();
    processor.on('failed', ({ receiveCount, retryInSeconds }) => failures.push({ receiveCount, retryInSeconds }));
    await waitUntil(() => processor.counters.processed === 1, 'the message succeeds on its third try', 8_000);

    expect(record.receiveCounts.get('flaky')).toEqual([1, 2, 3]);
    expect(failures).toEqual([{ receiveCount: 1, retryInSeconds: 1 }, { receiveCount: 2, retryInSeconds: 2 }]);
    const [first, second, third] = record.startTimes.get('flaky')!;
    expect(second! - first!).toBeGreaterThanOrEqual(950);
    expect(third! - second!).toBeGreaterThanOrEqual(1_950);
  });

  it('sends a poison message to the dead-letter queue after maxReceiveCount tries while the others complete', async () => {
    const { queueUrl, deadLetterQueueUrl } = await workers.sqs.createQueue({ maxReceiveCount: 3 });
    const good = bodies(30, 'good');
    await workers.sqs.send(queueUrl, [...good.slice(0, 15), 'poison', ...good.slice(15)]);
    const { handler, record } = recordingHandler(async (message) => {
      if (message.body === 'poison') throw new Error('cannot handle this one');
    });

    const processor = workers.processor({ queueUrl, handler, concurrency: 8, failureBackoff: { initialSeconds: 0, maxSeconds: 0 } }).start();
    await waitUntil(async () => (await workers.sqs.depth(deadLetterQueueUrl!)).visible === 1, 'the poison message is in the DLQ');

    expect([...record.completed].sort()).toEqual([...good].sort());
    expect(record.starts.get('poison')).toBe(3);
    expect((await workers.sqs.receiveAll(deadLetterQueueUrl!)).map((message) => message.Body)).toEqual(['poison']);
    expect(processor.counters).toMatchObject({ processed: 30, failed: 3 });
  });

  it('sends a message whose body cannot be parsed to the dead-letter queue without the handler seeing it, and keeps working', async () => {
    const { queueUrl, deadLetterQueueUrl } = await workers.sqs.createQueue({ maxReceiveCount: 2 });
    await workers.sqs.send(queueUrl, ['{"n":1}', '{not json', '{"n":2}']);
    const { handler, record } = recordingHandler<{ n: number }>(async (message) => {
      expect(typeof message.body.n).toBe('number');
    });
    const errors: Error[] = [];

    const processor = workers.processor<{ n: number }>({ queueUrl, handler, parse: 'json', failureBackoff: { initialSeconds: 0, maxSeconds: 0 } }).start();
    processor.on('failed', ({ error }) => errors.push(error));
    await waitUntil(async () => (await workers.sqs.depth(deadLetterQueueUrl!)).visible === 1, 'the unparseable message is in the DLQ');
    await workers.sqs.send(queueUrl, ['{"n":3}']);
    await waitUntil(() => processor.counters.processed === 3, 'the worker still processes new messages');

    expect(record.starts.has('{not json')).toBe(false);
    expect(errors).toHaveLength(2);
    expect(errors.every((error) => error instanceof MessageParseError)).toBe(true);
    expect(processor.counters).toMatchObject({ unparseable: 2, failed: 2, processed: 3 });
  });

  it('processes 1 MiB messages', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    const large = ['a', 'b', 'c'].map((fill) => fill.repeat(1024 * 1024));
    await workers.sqs.send(queueUrl, [large[0]!]);
    await workers.sqs.send(queueUrl, [large[1]!]);
    await workers.sqs.send(queueUrl, [large[2]!]);
    const lengths: number[] = [];
    const { handler, record } = recordingHandler(async (message) => {
      lengths.push(Buffer.byteLength(message.body));
    });

    const processor = workers.processor({ queueUrl, handler }).start();
    await waitUntil(() => processor.counters.processed === 3, 'the large messages are processed');

    expect(lengths).toEqual([1024 * 1024, 1024 * 1024, 1024 * 1024]);
    expect([...record.starts.values()]).toEqual([1, 1, 1]);
  });

  it('aborts a handler past its timeout through its signal and retries the message', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, ['stuck-once']);
    const { handler, record } = recordingHandler(async (_message, { signal, receiveCount }) => work(receiveCount === 1 ? 60_000 : 1, signal));
    const errors: Error[] = [];

    const processor = workers.processor({ queueUrl, handler, handlerTimeoutMs: 200, failureBackoff: { initialSeconds: 0, maxSeconds: 0 } }).start();
    processor.on('failed', ({ error }) => errors.push(error));
    await waitUntil(() => processor.counters.processed === 1, 'the second try succeeds');

    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(HandlerTimeoutError);
    expect(record.receiveCounts.get('stuck-once')).toEqual([1, 2]);
    expect(processor.counters).toMatchObject({ timedOut: 1, abandoned: 0 });
  });

  it('retries receives and deletes through throttling, server errors and dropped connections', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    await workers.sqs.send(queueUrl, bodies(25));
    workers.sqs.injectFault('ReceiveMessage', 'throttling', 2);
    workers.sqs.injectFault('ReceiveMessage', 'connection-reset', 1);
    workers.sqs.injectFault('DeleteMessageBatch', 'server-error', 2);
    const { handler, record } = recordingHandler();
    const errors: Error[] = [];

    const processor = workers.processor({ queueUrl, handler, concurrency: 10, sqsRetryBackoff: { initialMs: 20, maxMs: 100 } }).start();
    processor.on('error', ({ error }) => errors.push(error));
    await waitUntil(() => processor.counters.processed === 25, 'every message is processed');
    await sleep(200);

    expect([...record.starts.values()].every((starts) => starts === 1)).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(errors.every((error) => error instanceof SqsCallError)).toBe(true);
    expect(await workers.sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('stops by itself with a clear error when SQS refuses its credentials', async () => {
    const { queueUrl } = await workers.sqs.createQueue();
    workers.sqs.injectFault('ReceiveMessage', 'credentials', 1_000);
    const logger = capturingLogger();
    const processor = workers.processor({ queueUrl, handler: async () => undefined, logger }).start();

    const summary = await processor.whenStopped();
    workers.sqs.clearFaults();

    expect(summary.reason).toBe('fatal');
    expect(summary.error).toBeInstanceOf(SqsAccessError);
    expect(summary.error?.message).toMatch(/^SQS ReceiveMessage on http:\/\/127\.0\.0\.1:\d+\/\S+ was refused \(InvalidClientTokenId: The security token included in the request is invalid\.\); check that the worker's AWS credentials are valid and allow sqs:ReceiveMessage on this queue\. The worker stopped\.$/);
    expect(logger.lines.some((line) => line.level === 'error' && line.event === 'stopped')).toBe(true);
    expect(await processor.stop()).toBe(summary);
  });
});
