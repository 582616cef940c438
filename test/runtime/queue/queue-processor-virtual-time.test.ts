// The queue worker on a virtual clock: every timer it has (heartbeat, handler timeout, delete batching,
// long polls) runs on the clock it is given, so minutes of queue time pass in milliseconds and each
// SQS call can be checked against the exact moment it is due. SQS here is an in-memory script on the
// same clock: local-aws-sqs keeps real time, so it cannot take part in a virtual-time run.
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError } from '../../../lib/runtime/queue/errors.ts';
import { QueueProcessor } from '../../../lib/runtime/queue/queue-processor.ts';
import type { QueueProcessorOptions } from '../../../lib/runtime/queue/queue-processor-options.ts';
import { VirtualClock } from '../../helpers/virtual-clock.ts';
import { capturingLogger } from './processor-harness.ts';

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/work';

interface SqsCall {
  /** Virtual milliseconds since the run started. */
  readonly at: number;
  readonly operation: 'ReceiveMessage' | 'DeleteMessageBatch' | 'ChangeMessageVisibilityBatch';
  readonly entries?: readonly Record<string, unknown>[];
}

/**
 * Hands out `messages` on the first receives (after throttling the first `throttledReceives`); later
 * receives long-poll (on the clock) and come back empty. Batch calls all succeed.
 */
function scriptedSqs(clock: VirtualClock, messages: Message[], throttledReceives = 0) {
  let throttled = 0;
  const startedAt = clock.now();
  const calls: SqsCall[] = [];
  const send = async (command: unknown, options: { abortSignal?: AbortSignal } = {}) => {
    const at = clock.now() - startedAt;
    if (command instanceof ReceiveMessageCommand) {
      calls.push({ at, operation: 'ReceiveMessage' });
      if (throttled++ < throttledReceives) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      if (messages.length > 0) return { Messages: messages.splice(0, command.input.MaxNumberOfMessages ?? 1) };
      await clock.sleep((command.input.WaitTimeSeconds ?? 0) * 1000, options.abortSignal);
      return { Messages: [] };
    }
    if (command instanceof DeleteMessageBatchCommand || command instanceof ChangeMessageVisibilityBatchCommand) {
      const entries = command.input.Entries ?? [];
      calls.push({ at, operation: command instanceof DeleteMessageBatchCommand ? 'DeleteMessageBatch' : 'ChangeMessageVisibilityBatch', entries: entries.map((entry) => ({ ...entry })) });
      return { Successful: entries.map(({ Id }) => ({ Id })), Failed: [] };
    }
    throw new Error(`the scripted SQS does not answer ${String(command)}`);
  };
  return { client: { send } as unknown as SQSClient, calls, batchCalls: () => calls.filter((call) => call.operation !== 'ReceiveMessage') };
}

function message(id: string): Message {
  return { MessageId: id, ReceiptHandle: `handle-${id}`, Body: id, Attributes: { ApproximateReceiveCount: '1' } };
}

function processorOn(clock: VirtualClock, sqs: SQSClient, options: Partial<QueueProcessorOptions>): QueueProcessor {
  return new QueueProcessor({ sqs, queueUrl, clock, concurrency: 1, batchSize: 1, logger: capturingLogger(), handler: async () => undefined, ...options });
}

describe('QueueProcessor on a virtual clock', () => {
  it('extends a slow message each time half of its visibility is left, and deletes it once done, at the exact moments', async () => {
    const clock = new VirtualClock();
    const sqs = scriptedSqs(clock, [message('slow')]);
    // 100 s of work against a 60 s visibility timeout.
    const processor = processorOn(clock, sqs.client, { visibilityTimeoutSeconds: 60, handler: (_message, { signal }) => clock.sleep(100_000, signal) });
    const processed = new Promise((resolve) => processor.on('processed', resolve));
    const realStart = performance.now();

    processor.start();
    await clock.run(processed);
    await clock.run(processor.stop());

    const extend = (at: number) => ({ at, operation: 'ChangeMessageVisibilityBatch', entries: [{ Id: '0', ReceiptHandle: 'handle-slow', VisibilityTimeout: 60 }] });
    expect(sqs.batchCalls()).toEqual([
      // Invisible until 60 s: extended at 30 s (to 90 s), at 60 s (to 120 s), at 90 s (to 150 s).
      extend(30_000),
      extend(60_000),
      extend(90_000),
      // Done at 100 s; the delete waits the 50 ms flush delay for company.
      { at: 100_050, operation: 'DeleteMessageBatch', entries: [{ Id: '0', ReceiptHandle: 'handle-slow' }] },
    ]);
    expect(processor.counters).toMatchObject({ processed: 1, heartbeatExtensions: 3, failed: 0 });
    // 100 s of queue time took no real waiting.
    expect(performance.now() - realStart).toBeLessThan(5_000);
  });

  it('aborts a handler exactly at its timeout and backs the message off by the first failure delay', async () => {
    const clock = new VirtualClock();
    const sqs = scriptedSqs(clock, [message('stuck')]);
    const abortedAt: number[] = [];
    const startedAt = clock.now();
    const processor = processorOn(clock, sqs.client, {
      visibilityTimeoutSeconds: 600,
      handlerTimeoutMs: 120_000,
      failureBackoff: { initialSeconds: 7, maxSeconds: 60 },
      handler: (_message, { signal }) => new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          abortedAt.push(clock.now() - startedAt);
          reject(signal.reason);
        }, { once: true });
      }),
    });
    const failed = new Promise<{ error: Error; retryInSeconds: number }>((resolve) => processor.on('failed', resolve));

    processor.start();
    const failure = await clock.run(failed);
    // A second more before stopping, which would flush at once: the back-off goes out on its own.
    await clock.run(clock.sleep(1_000));
    await clock.run(processor.stop());

    expect(abortedAt).toEqual([120_000]);
    expect(failure.error).toBeInstanceOf(HandlerTimeoutError);
    expect(failure.retryInSeconds).toBe(7);
    // No heartbeat was due (600 s of visibility, 120 s of work): the only batch call is the back-off, after the flush delay.
    expect(sqs.batchCalls()).toEqual([{ at: 120_050, operation: 'ChangeMessageVisibilityBatch', entries: [{ Id: '0', ReceiptHandle: 'handle-stuck', VisibilityTimeout: 7 }] }]);
  });

  it('pauses receiving after throttling for the back-off, on the clock', async () => {
    const clock = new VirtualClock();
    const sqs = scriptedSqs(clock, [message('late')], 2);
    const processor = processorOn(clock, sqs.client, { sqsRetryBackoff: { initialMs: 1_000, maxMs: 10_000 } });
    const processed = new Promise((resolve) => processor.on('processed', resolve));

    processor.start();
    await clock.run(processed);
    await clock.run(processor.stop());

    const [first, second, third] = sqs.calls.filter((call) => call.operation === 'ReceiveMessage').map((call) => call.at);
    // 1 s after the first failure and 2 s after the second, each jittered down by up to half.
    expect(first).toBe(0);
    expect(second! - first!).toBeGreaterThanOrEqual(500);
    expect(second! - first!).toBeLessThanOrEqual(1_000);
    expect(third! - second!).toBeGreaterThanOrEqual(1_000);
    expect(third! - second!).toBeLessThanOrEqual(2_000);
  });
});
