import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambda/stream-consumer.ts';
import type { LogLevel, Logger } from '../../lib/runtime/json-logger.ts';
import { createKinesisBatchProcessor, type KinesisBatchProcessorOptions } from '../../lib/runtime/stream/kinesis-batch-processor.ts';
import { RecordProcessingError, type StreamRecord } from '../../lib/runtime/stream/stream-record.ts';

const streamArn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/sluice-dev-events';

/** A sequence number as Kinesis writes them (56 digits), ordered by `n`. */
function sequenceNumber(n: number): string {
  return `4959033827149025660855969253836157109592157598913658${String(n).padStart(4, '0')}`;
}

/** A record as Lambda's Kinesis event source delivers it: data in base64, arrival time in seconds. */
function kinesisRecord(n: number, data: string | Uint8Array, options: { shardId?: string; partitionKey?: string; arrivalSeconds?: number } = {}): KinesisStreamRecord {
  const shardId = options.shardId ?? 'shardId-000000000000';
  return {
    awsRegion: 'eu-west-1',
    eventID: `${shardId}:${sequenceNumber(n)}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: streamArn,
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/stream-consumer',
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: options.partitionKey ?? `customer-${n % 3}`,
      sequenceNumber: sequenceNumber(n),
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: options.arrivalSeconds ?? 1767225600.125 + n,
    },
  };
}

function kinesisEvent(...records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

const event = (type: string) => JSON.stringify({ type });

/** A context whose invocation times out `ms` from now. */
function contextTimingOutIn(ms: number): Context {
  const deadline = Date.now() + ms;
  return { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()), awsRequestId: 'request-1' } as Context;
}

function recordingLogger(): Logger & { entries: { level: LogLevel; event: string; fields: Record<string, unknown> }[] } {
  const entries: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  return { entries, log: (level, name, fields = {}) => entries.push({ level, event: name, fields: { ...fields } }) };
}

function processor(options: Omit<KinesisBatchProcessorOptions, 'logger'>) {
  const logger = recordingLogger();
  return { logger, processBatch: createKinesisBatchProcessor({ ...options, logger }) };
}

const failedSequenceNumbers = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

/** Captures the JSON lines the shipped handler logs. */
function captureStdout(): { lines: () => Record<string, unknown>[] } {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
  return { lines: () => written.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** Sequence numbers the app's event handler processed, in order. */
const processedBy = (lines: Record<string, unknown>[]) => lines.filter((line) => line.event === 'event_received').map((line) => line.sequenceNumber);

describe('lambda/stream-consumer handler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('processes every record of an all-good batch in order and answers with no failures', async () => {
    const stdout = captureStdout();
    const response = await handler(kinesisEvent(kinesisRecord(1, event('order-placed')), kinesisRecord(2, event('order-paid')), kinesisRecord(3, '[1,2]')), contextTimingOutIn(60_000), () => undefined);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(processedBy(stdout.lines())).toEqual([sequenceNumber(1), sequenceNumber(2), sequenceNumber(3)]);
    expect(stdout.lines().filter((line) => line.event === 'event_received').map((line) => line.type)).toEqual(['order-placed', 'order-paid', undefined]);
  });

  it('reports a poison record mid-batch by its sequence number, so Lambda checkpoints just before it', async () => {
    const stdout = captureStdout();
    const response = await handler(
      kinesisEvent(kinesisRecord(1, event('a')), kinesisRecord(2, event('b')), kinesisRecord(3, '{not json'), kinesisRecord(4, event('d'))),
      contextTimingOutIn(60_000),
      () => undefined,
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(3) }] });
    // Records behind the poison are not processed ahead of it: they are retried after it, in order.
    expect(processedBy(stdout.lines())).toEqual([sequenceNumber(1), sequenceNumber(2)]);
  });

  it('fails the invocation when the first record is poison, so that Lambda splits the batch', async () => {
    captureStdout();
    await expect(handler(kinesisEvent(kinesisRecord(1, Uint8Array.from([0xff, 0xfe])), kinesisRecord(2, event('b'))), contextTimingOutIn(60_000), () => undefined))
      .rejects.toMatchObject({ name: 'BatchNotProcessedError', message: expect.stringContaining(`shardId-000000000000 from ${sequenceNumber(1)}`) });
  });
});

/**
 * A model of Lambda's Kinesis event source mapping for one shard with ReportBatchItemFailures, as AWS
 * documents it: a response naming a record checkpoints just before it and retries only the records
 * from it on; a function error splits the batch in two when bisectBatchOnError is on (a split uses
 * no retry) and is otherwise retried; a batch retried more than retryAttempts times is discarded —
 * its shard id and sequence number range go to the on-failure destination — and the shard moves on.
 */
async function runEventSourceMapping(
  records: readonly KinesisStreamRecord[],
  invoke: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | void>,
  settings: { readonly batchSize: number; readonly retryAttempts: number; readonly bisectBatchOnError: boolean },
) {
  const answers: string[] = [];
  const destination: { startSequenceNumber: string; endSequenceNumber: string; batchSize: number }[] = [];
  type Batch = { start: number; end: number; retries: number };
  const pending: Batch[] = [];
  let position = 0;
  const retryOrDiscard = (batch: Batch) => {
    if (batch.retries + 1 <= settings.retryAttempts) {
      pending.unshift({ ...batch, retries: batch.retries + 1 });
      return;
    }
    destination.push({ startSequenceNumber: records[batch.start]!.kinesis.sequenceNumber, endSequenceNumber: records[batch.end - 1]!.kinesis.sequenceNumber, batchSize: batch.end - batch.start });
    position = batch.end;
  };
  while (position < records.length) {
    const batch = pending.shift() ?? { start: position, end: Math.min(records.length, position + settings.batchSize), retries: 0 };
    let response: KinesisStreamBatchResponse | void;
    try {
      response = await invoke(kinesisEvent(...records.slice(batch.start, batch.end)));
    } catch {
      answers.push(`error [${batch.start}..${batch.end - 1}]`);
      if (settings.bisectBatchOnError && batch.end - batch.start > 1) {
        const middle = batch.start + Math.ceil((batch.end - batch.start) / 2);
        pending.unshift({ ...batch, end: middle }, { ...batch, start: middle });
      } else {
        retryOrDiscard(batch);
      }
      continue;
    }
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) {
      answers.push(`ok [${batch.start}..${batch.end - 1}]`);
      position = batch.end;
      continue;
    }
    const lowest = failures.map((failure) => records.findIndex((record) => record.kinesis.sequenceNumber === failure.itemIdentifier)).sort((a, b) => a - b)[0]!;
    answers.push(`retry from ${lowest}`);
    position = lowest;
    retryOrDiscard({ ...batch, start: lowest });
  }
  return { answers, destination };
}

describe('a poison record under Lambda (bisectBatchOnError, bounded retryAttempts)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('ends alone in the on-failure destination, and every other record is processed exactly once, in order', async () => {
    const stdout = captureStdout();
    const records = Array.from({ length: 10 }, (_, n) => kinesisRecord(n, n === 5 ? 'poison{' : event(`e${n}`)));
    const { answers, destination } = await runEventSourceMapping(records, async (batch) => handler(batch, contextTimingOutIn(60_000), () => undefined), {
      batchSize: 10,
      retryAttempts: 2,
      bisectBatchOnError: true,
    });

    expect(destination).toEqual([{ startSequenceNumber: sequenceNumber(5), endSequenceNumber: sequenceNumber(5), batchSize: 1 }]);
    expect(processedBy(stdout.lines())).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9].map(sequenceNumber));
    expect(answers).toEqual([
      'retry from 5', // records 0–4 are done and checkpointed
      'error [5..9]', // the poison heads the retried batch: split
      'error [5..7]',
      'error [5..6]',
      'error [5..5]', // alone: retried retryAttempts times in all, then discarded
      'error [5..5]',
      'ok [6..6]',
      'ok [7..7]',
      'ok [8..9]',
    ]);
  });

  it('processes a batch without a poison record in one invocation', async () => {
    const stdout = captureStdout();
    const records = Array.from({ length: 4 }, (_, n) => kinesisRecord(n, event(`e${n}`)));
    const { answers, destination } = await runEventSourceMapping(records, async (batch) => handler(batch, contextTimingOutIn(60_000), () => undefined), {
      batchSize: 100,
      retryAttempts: 3,
      bisectBatchOnError: true,
    });
    expect(answers).toEqual(['ok [0..3]']);
    expect(destination).toEqual([]);
    expect(processedBy(stdout.lines())).toEqual([0, 1, 2, 3].map(sequenceNumber));
  });
});

describe('createKinesisBatchProcessor', () => {
  it('gives the processor the records of each shard, in order, decoded as the instance consumer would', async () => {
    const calls: { shardId: string; records: readonly StreamRecord[] }[] = [];
    const { processBatch } = processor({ processor: async (records, { shardId }) => void calls.push({ shardId, records }) });
    const response = await processBatch(
      kinesisEvent(
        kinesisRecord(1, 'one', { partitionKey: 'customer-7', arrivalSeconds: 1767225600.125 }),
        kinesisRecord(2, Uint8Array.from([0, 1, 255])),
        kinesisRecord(3, 'three', { shardId: 'shardId-000000000001' }),
        kinesisRecord(4, 'four'),
      ),
      contextTimingOutIn(60_000),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(calls.map(({ shardId, records }) => [shardId, records.map((record) => record.sequenceNumber)])).toEqual([
      ['shardId-000000000000', [sequenceNumber(1), sequenceNumber(2), sequenceNumber(4)]],
      ['shardId-000000000001', [sequenceNumber(3)]],
    ]);
    const [first, second] = calls[0]!.records;
    expect(first).toMatchObject({ shardId: 'shardId-000000000000', partitionKey: 'customer-7', approximateArrivalTimestamp: new Date(1767225600125) });
    expect(first).not.toHaveProperty('subSequenceNumber');
    expect(Buffer.from(first!.data).toString()).toBe('one');
    expect([...second!.data]).toEqual([0, 1, 255]);
  });

  it('reports the record a RecordProcessingError names, and keeps the records before it', async () => {
    const { processBatch, logger } = processor({
      processor: async (records) => {
        throw new RecordProcessingError(records[2]!.sequenceNumber, { cause: new Error('partner API refused it') });
      },
    });
    const response = await processBatch(kinesisEvent(kinesisRecord(1, 'a'), kinesisRecord(2, 'b'), kinesisRecord(3, 'c'), kinesisRecord(4, 'd')), contextTimingOutIn(60_000));
    expect(failedSequenceNumbers(response)).toEqual([sequenceNumber(3)]);
    expect(logger.entries.find((entry) => entry.event === 'batch_failed')?.fields).toMatchObject({
      shardId: 'shardId-000000000000',
      sequenceNumber: sequenceNumber(3),
      processed: 2,
      error: expect.objectContaining({ message: expect.stringContaining('partner API refused it') }),
    });
    expect(logger.entries.at(-1)).toMatchObject({ event: 'batch_processed', fields: { requestId: 'request-1', records: 4, succeeded: 2, retryFrom: sequenceNumber(3) } });
  });

  it('treats any other error as the whole batch failing: the invocation fails so that Lambda splits it', async () => {
    const { processBatch } = processor({ processor: async () => { throw new Error('database down'); } });
    await expect(processBatch(kinesisEvent(kinesisRecord(1, 'a'), kinesisRecord(2, 'b')), contextTimingOutIn(60_000))).rejects.toMatchObject({
      name: 'BatchNotProcessedError',
      reasonCode: 'BatchNotProcessed',
      message: expect.stringContaining('database down'),
      cause: expect.objectContaining({ message: 'database down' }),
    });
  });

  it('treats a RecordProcessingError naming a record not in the batch as the whole batch failing', async () => {
    const { processBatch } = processor({ processor: async () => { throw new RecordProcessingError('123'); } });
    await expect(processBatch(kinesisEvent(kinesisRecord(1, 'a')), contextTimingOutIn(60_000))).rejects.toMatchObject({ name: 'BatchNotProcessedError' });
  });

  it('reports the first record of a shard that failed whole when another shard of the event made progress', async () => {
    const { processBatch } = processor({
      processor: async (records, { shardId }) => {
        if (shardId === 'shardId-000000000001') throw new Error('no');
        throw new RecordProcessingError(records[1]!.sequenceNumber);
      },
    });
    const response = await processBatch(
      kinesisEvent(kinesisRecord(1, 'a'), kinesisRecord(2, 'b'), kinesisRecord(3, 'c', { shardId: 'shardId-000000000001' }), kinesisRecord(4, 'd', { shardId: 'shardId-000000000001' })),
      contextTimingOutIn(60_000),
    );
    expect(failedSequenceNumbers(response)).toEqual([sequenceNumber(2), sequenceNumber(3)]);
  });

  it('answers an empty event with no failures', async () => {
    const { processBatch } = processor({ processor: async () => undefined });
    await expect(processBatch(kinesisEvent(), contextTimingOutIn(60_000))).resolves.toEqual({ batchItemFailures: [] });
  });

  describe('near the invocation timeout', () => {
    // Virtual time: the deadlines are exact and the tests do not wait.
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('aborts the signal shortly before the timeout; a processor naming where it stopped keeps what it did', async () => {
      let abortedAt: number | undefined;
      const startedAt = Date.now();
      const { processBatch } = processor({
        abortBeforeTimeoutMs: 1_000,
        processor: async (records, { signal }) => {
          for (const record of records) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            if (signal.aborted) {
              abortedAt = Date.now() - startedAt;
              throw new RecordProcessingError(record.sequenceNumber, { cause: signal.reason });
            }
          }
        },
      });
      // 400 ms left: the margin is capped at a quarter of that, so the signal aborts at 300 ms.
      const response = processBatch(kinesisEvent(...Array.from({ length: 10 }, (_, n) => kinesisRecord(n, 'x'))), contextTimingOutIn(400));
      await vi.advanceTimersByTimeAsync(400);
      expect(failedSequenceNumbers(await response)).toEqual([sequenceNumber(2)]);
      expect(abortedAt).toBe(300);
    });

    it('answers in time even if the processor ignores its signal, and the invocation fails as nothing is known done', async () => {
      const { processBatch, logger } = processor({
        abortBeforeTimeoutMs: 1_000,
        processor: () => new Promise((resolve) => setTimeout(resolve, 1_000)),
      });
      const response = processBatch(kinesisEvent(kinesisRecord(1, 'a'), kinesisRecord(2, 'b')), contextTimingOutIn(400));
      let settledAt: number | undefined;
      const startedAt = Date.now();
      const outcome = response.then(() => 'resolved', (error: Error) => error);
      void outcome.then(() => (settledAt = Date.now() - startedAt));
      // Aborted at 300 ms; half the 100 ms margin later the answer goes out regardless.
      await vi.advanceTimersByTimeAsync(349);
      expect(settledAt).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(settledAt).toBe(350);
      expect(await outcome).toMatchObject({ name: 'BatchNotProcessedError', cause: expect.objectContaining({ name: 'InvocationDeadlineError' }) });
      expect(logger.entries.map((entry) => entry.event)).toContain('processor_abandoned');
      await vi.advanceTimersByTimeAsync(1_000);
      expect(logger.entries.at(-1)).toMatchObject({ event: 'processor_settled_late', fields: { succeeded: true } });
    });

    it('fails at once without running the processor when there is no time left', async () => {
      let calls = 0;
      const { processBatch } = processor({ processor: async () => void (calls += 1) });
      await expect(processBatch(kinesisEvent(kinesisRecord(1, 'a')), contextTimingOutIn(0))).rejects.toMatchObject({ name: 'BatchNotProcessedError' });
      expect(calls).toBe(0);
    });
  });

  it('lists every invalid option', () => {
    expect(() => createKinesisBatchProcessor({ processor: 'nope' as never, abortBeforeTimeoutMs: 1.5 })).toThrow(
      'Invalid Kinesis batch processor options:\n'
        + '  - processor must be a function (records, { shardId, signal }) => Promise<void>\n'
        + '  - abortBeforeTimeoutMs must be a whole number between 0 and 60000 milliseconds (given 1.5)',
    );
  });
});
