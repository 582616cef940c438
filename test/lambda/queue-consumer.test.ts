import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambda/queue-consumer.ts';
import type { LogLevel, Logger } from '../../lib/runtime/json-logger.ts';
import { InvalidQueueProcessorOptionsError } from '../../lib/runtime/queue/errors.ts';
import type { QueueMessage } from '../../lib/runtime/queue/queue-message.ts';
import { createSqsBatchProcessor, InvocationDeadlineError, type SqsBatchProcessorOptions } from '../../lib/runtime/queue/sqs-batch-processor.ts';
import { VirtualClock } from '../helpers/virtual-clock.ts';

const standardQueueArn = 'arn:aws:sqs:eu-west-1:123456789012:work';
const fifoQueueArn = 'arn:aws:sqs:eu-west-1:123456789012:work.fifo';

function sqsRecord(messageId: string, body: string, options: { queueArn?: string; groupId?: string; receiveCount?: number } = {}): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '1767225600000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1767225600100',
      ...(options.groupId ? { MessageGroupId: options.groupId, SequenceNumber: '1', MessageDeduplicationId: messageId } : {}),
    },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn ?? standardQueueArn,
    awsRegion: 'eu-west-1',
  };
}

function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A context whose invocation times out `ms` from now. */
function contextTimingOutIn(ms: number): Context {
  const deadline = Date.now() + ms;
  return { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()), awsRequestId: 'request-1' } as Context;
}

function recordingLogger(): Logger & { entries: { level: LogLevel; event: string; fields: Record<string, unknown> }[] } {
  const entries: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  return { entries, log: (level, event, fields = {}) => entries.push({ level, event, fields: { ...fields } }) };
}

function processor<Body = string>(options: Omit<SqsBatchProcessorOptions<Body>, 'logger'>) {
  const logger = recordingLogger();
  return { logger, processBatch: createSqsBatchProcessor<Body>({ ...options, logger }) };
}

const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe('lambda/queue-consumer handler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs the app work handler and reports only the messages it could not handle, by message id', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    const response = await handler(
      sqsEvent(
        sqsRecord('m1', JSON.stringify({ type: 'send-invoice', invoiceId: 7 })),
        sqsRecord('m2', '{not json'),
        sqsRecord('m3', JSON.stringify({ invoiceId: 8 })),
        sqsRecord('m4', JSON.stringify({ type: 'send-reminder' })),
      ),
      contextTimingOutIn(10_000),
      () => undefined,
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.filter((line) => line.event === 'work_received').map((line) => [line.messageId, line.type])).toEqual([['m1', 'send-invoice'], ['m4', 'send-reminder']]);
    expect(logged.find((line) => line.event === 'message_failed' && line.messageId === 'm3')).toMatchObject({
      error: { name: 'MessageParseError', reasonCode: 'UnparseableBody', message: expect.stringContaining('type must be a non-empty string') },
    });
  });

  it('answers an all-good batch with an empty failure list', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const response = await handler(sqsEvent(sqsRecord('m1', '{"type":"a"}'), sqsRecord('m2', '{"type":"b"}')), contextTimingOutIn(10_000), () => undefined);
    expect(response).toEqual({ batchItemFailures: [] });
  });
});

describe('createSqsBatchProcessor', () => {
  it('reports failed messages by id, in batch order, and lets the rest succeed', async () => {
    const handled: string[] = [];
    const { processBatch } = processor({
      handler: async (message) => {
        handled.push(message.messageId);
        if (message.body.startsWith('fail')) throw new Error(`could not ${message.body}`);
      },
    });
    const response = await processBatch(sqsEvent(sqsRecord('a', 'ok'), sqsRecord('b', 'fail b'), sqsRecord('c', 'ok'), sqsRecord('d', 'fail d')), contextTimingOutIn(10_000));
    expect(failedIds(response)).toEqual(['b', 'd']);
    expect(handled.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('answers an empty event and an all-good batch with an empty failure list', async () => {
    const { processBatch, logger } = processor({ handler: async () => undefined });
    await expect(processBatch(sqsEvent(), contextTimingOutIn(10_000))).resolves.toEqual({ batchItemFailures: [] });
    await expect(processBatch(sqsEvent(sqsRecord('a', 'x'), sqsRecord('b', 'y')), contextTimingOutIn(10_000))).resolves.toEqual({ batchItemFailures: [] });
    expect(logger.entries.at(-1)).toMatchObject({ event: 'batch_processed', fields: { requestId: 'request-1', messages: 2, succeeded: 2, failed: 0 } });
  });

  it('reports an unparseable body as failed without calling the handler or failing the batch', async () => {
    const seen: unknown[] = [];
    const { processBatch, logger } = processor<{ n: number }>({ parse: 'json', handler: async (message) => void seen.push(message.body) });
    const response = await processBatch(sqsEvent(sqsRecord('good', '{"n":1}'), sqsRecord('bad', '{"n":'), sqsRecord('good2', '{"n":2}')), contextTimingOutIn(10_000));
    expect(failedIds(response)).toEqual(['bad']);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(logger.entries.find((entry) => entry.event === 'message_failed')?.fields).toMatchObject({ messageId: 'bad', error: expect.objectContaining({ name: 'MessageParseError' }) });
  });

  it('gives the handler the message as the instance worker would: receive count, send time, group, attributes', async () => {
    let received: QueueMessage | undefined;
    let contextReceiveCount: number | undefined;
    const { processBatch } = processor({
      handler: async (message, { receiveCount }) => {
        received = message;
        contextReceiveCount = receiveCount;
      },
    });
    const withAttributes = sqsRecord('m1', 'hello', { queueArn: fifoQueueArn, groupId: 'customer-7', receiveCount: 3 });
    withAttributes.messageAttributes = {
      tenant: { dataType: 'String', stringValue: 'acme', stringListValues: [], binaryListValues: [] },
      checksum: { dataType: 'Binary', binaryValue: Buffer.from([1, 2, 255]).toString('base64'), stringListValues: [], binaryListValues: [] },
    };
    await processBatch(sqsEvent(withAttributes), contextTimingOutIn(10_000));
    expect(contextReceiveCount).toBe(3);
    expect(received).toMatchObject({
      messageId: 'm1',
      body: 'hello',
      rawBody: 'hello',
      receiveCount: 3,
      messageGroupId: 'customer-7',
      sentAt: new Date(1767225600000),
      attributes: { SenderId: 'AIDAEXAMPLE', MessageGroupId: 'customer-7' },
      messageAttributes: { tenant: { DataType: 'String', StringValue: 'acme' } },
    });
    expect([...(received?.messageAttributes.checksum?.BinaryValue ?? [])]).toEqual([1, 2, 255]);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { processBatch } = processor({
      concurrency: 3,
      handler: async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
      },
    });
    const records = Array.from({ length: 10 }, (_, index) => sqsRecord(`m${index}`, 'x'));
    await expect(processBatch(sqsEvent(...records), contextTimingOutIn(10_000))).resolves.toEqual({ batchItemFailures: [] });
    expect(maxInFlight).toBe(3);
  });

  describe('FIFO queues', () => {
    it('runs each group in order, one at a time, and fails every message behind a failure in its group', async () => {
      const started: string[] = [];
      const busyGroups = new Set<string>();
      let overlapped = false;
      const { processBatch, logger } = processor({
        handler: async (message) => {
          const group = message.messageGroupId ?? '';
          if (busyGroups.has(group)) overlapped = true;
          busyGroups.add(group);
          started.push(message.messageId);
          await new Promise((resolve) => setTimeout(resolve, 2));
          busyGroups.delete(group);
          if (message.body === 'fail') throw new Error('downstream refused');
        },
      });
      const fifo = (id: string, group: string, body = 'ok') => sqsRecord(id, body, { queueArn: fifoQueueArn, groupId: group });
      const response = await processBatch(
        sqsEvent(fifo('a1', 'A'), fifo('b1', 'B'), fifo('a2', 'A', 'fail'), fifo('b2', 'B'), fifo('a3', 'A'), fifo('a4', 'A'), fifo('b3', 'B')),
        contextTimingOutIn(10_000),
      );
      expect(failedIds(response)).toEqual(['a2', 'a3', 'a4']);
      expect(started.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2']);
      expect(started.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
      expect(overlapped).toBe(false);
      expect(logger.entries.filter((entry) => entry.event === 'message_skipped').map((entry) => entry.fields)).toEqual([
        { messageId: 'a3', messageGroupId: 'A', behind: 'a2' },
        { messageId: 'a4', messageGroupId: 'A', behind: 'a2' },
      ]);
    });

    it('treats an unparseable FIFO message as a failure that holds back its group', async () => {
      const { processBatch } = processor({ parse: 'json', handler: async () => undefined });
      const fifo = (id: string, group: string, body: string) => sqsRecord(id, body, { queueArn: fifoQueueArn, groupId: group });
      const response = await processBatch(sqsEvent(fifo('a1', 'A', '{oops'), fifo('a2', 'A', '{}'), fifo('b1', 'B', '{}')), contextTimingOutIn(10_000));
      expect(failedIds(response)).toEqual(['a1', 'a2']);
    });

    it('keeps no order on a standard queue, even for messages sent with a group id', async () => {
      const { processBatch } = processor({ handler: async (message) => { if (message.body === 'fail') throw new Error('no'); } });
      const grouped = (id: string, body = 'ok') => sqsRecord(id, body, { groupId: 'tenant-1' });
      const response = await processBatch(sqsEvent(grouped('m1', 'fail'), grouped('m2'), grouped('m3')), contextTimingOutIn(10_000));
      expect(failedIds(response)).toEqual(['m1']);
    });
  });

  describe('near the invocation timeout', () => {
    // Virtual time: the deadlines are exact and the tests do not wait.
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    /** Runs the batch; `answeredAt()` is the virtual time at which the response came, if it has. */
    function track(response: Promise<SQSBatchResponse>) {
      const startedAt = Date.now();
      let answeredAt: number | undefined;
      void response.then(() => (answeredAt = Date.now() - startedAt));
      return () => answeredAt;
    }

    it('aborts running handlers shortly before the timeout, starts nothing new, and answers in time', async () => {
      const reasons: unknown[] = [];
      const { processBatch, logger } = processor({
        concurrency: 1,
        abortBeforeTimeoutMs: 1_000,
        handler: (_message, { signal }) => new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reasons.push(signal.reason);
            reject(signal.reason);
          }, { once: true });
        }),
      });
      // 400 ms left: the margin is capped at a quarter of that, so handlers are aborted at 300 ms.
      const response = processBatch(sqsEvent(sqsRecord('m1', 'x'), sqsRecord('m2', 'y'), sqsRecord('m3', 'z')), contextTimingOutIn(400));
      const answeredAt = track(response);
      await vi.advanceTimersByTimeAsync(299);
      expect(reasons).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(answeredAt()).toBe(300);
      expect(failedIds(await response)).toEqual(['m1', 'm2', 'm3']);
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toBeInstanceOf(InvocationDeadlineError);
      expect(logger.entries.filter((entry) => entry.event === 'message_not_started').map((entry) => entry.fields.messageId)).toEqual(['m2', 'm3']);
      expect(logger.entries.find((entry) => entry.event === 'message_failed')?.fields).toMatchObject({ messageId: 'm1', error: expect.objectContaining({ reasonCode: 'InvocationDeadline' }) });
    });

    it('keeps what finished before the deadline and answers even if a handler ignores its signal', async () => {
      const { processBatch, logger } = processor({
        abortBeforeTimeoutMs: 1_000,
        handler: async (message) => {
          if (message.messageId === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_000));
        },
      });
      const response = processBatch(sqsEvent(sqsRecord('fast', 'x'), sqsRecord('slow', 'y')), contextTimingOutIn(400));
      const answeredAt = track(response);
      // Aborted at 300 ms; half the 100 ms margin later the answer goes out regardless.
      await vi.advanceTimersByTimeAsync(349);
      expect(answeredAt()).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(answeredAt()).toBe(350);
      expect(failedIds(await response)).toEqual(['slow']);
      expect(logger.entries.map((entry) => entry.event)).toContain('handler_abandoned');
      await vi.advanceTimersByTimeAsync(1_000);
      expect(logger.entries.at(-1)).toMatchObject({ event: 'handler_settled_late', fields: { messageId: 'slow', succeeded: true } });
    });

    it('fails the whole batch at once when there is no time left to run it', async () => {
      let calls = 0;
      const { processBatch } = processor({ handler: async () => void (calls += 1) });
      const response = await processBatch(sqsEvent(sqsRecord('m1', 'x'), sqsRecord('m2', 'y')), contextTimingOutIn(0));
      expect(failedIds(response)).toEqual(['m1', 'm2']);
      expect(calls).toBe(0);
    });
  });

  it('keeps its deadlines on the clock it is given', async () => {
    const clock = new VirtualClock();
    const deadline = clock.now() + 2_000;
    const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()) };
    const abortedAt: number[] = [];
    const { processBatch } = processor({
      clock,
      abortBeforeTimeoutMs: 400,
      handler: (_message, { signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => {
        abortedAt.push(deadline - clock.now());
        reject(signal.reason);
      }, { once: true })),
    });
    const response = await clock.run(processBatch(sqsEvent(sqsRecord('m1', 'x')), context));
    expect(failedIds(response)).toEqual(['m1']);
    // Aborted 400 ms before Lambda's timeout, in virtual time.
    expect(abortedAt).toEqual([400]);
  });

  it('lists every invalid option', () => {
    const create = () => createSqsBatchProcessor({ handler: async () => undefined, concurrency: 0, abortBeforeTimeoutMs: 1.5 });
    expect(create).toThrow(InvalidQueueProcessorOptionsError);
    expect(create).toThrow(
      'Invalid SQS batch processor options:\n'
        + '  - concurrency must be a whole number between 1 and 1000 (given 0)\n'
        + '  - abortBeforeTimeoutMs must be a whole number between 0 and 60000 milliseconds (given 1.5)',
    );
  });
});
