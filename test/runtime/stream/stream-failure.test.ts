// Processor failures: a batch is retried with back-off a bounded number of times, then only the
// failing record goes to the failure queue (named by the processor, or found by running the records
// one at a time) and the shard moves on; without a failure queue the shard waits on the record.
import { describe, expect, it } from 'vitest';
import type { FailedRecordMessage } from '../../../lib/runtime/stream/failure-queue.ts';
import { RecordProcessingError } from '../../../lib/runtime/stream/stream-record.ts';
import { ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

const text = (data: Uint8Array) => Buffer.from(data).toString();

describe('StreamConsumer processor failures', () => {
  it('sends a poison record to the failure queue after the bounded retries and keeps the shard moving', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    const sqs = await local.sqs();
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const sent = [...records(20, { prefix: 'before' }), { partitionKey: 'key-poison', data: 'poison' }, ...records(20, { prefix: 'after' })];
    const put = await local.kinesis.put(streamName, sent);
    const log = new ProcessingLog();
    let poisonAttempts = 0;
    const failures: { attempt: number; records: number }[] = [];
    const consumer = local.consumer({
      streamName,
      leaseTableName,
      failureQueue: { sqs: sqs.client, queueUrl },
      processorRetries: 2,
      // The processor does not say which record failed: the consumer has to find it.
      processor: log.processor('a', async (batch) => {
        if (batch.some((record) => text(record.data) === 'poison')) {
          poisonAttempts += batch.length === 1 ? 1 : 0;
          throw new Error('cannot parse the record');
        }
      }),
    }).start();
    consumer.on('batchFailed', ({ attempt, records: count }) => failures.push({ attempt, records: count }));
    await waitUntil(() => log.seen.length === 40, 'every other record is processed');
    await consumer.stop();

    expect([...log.counts().values()].every((count) => count === 1)).toBe(true);
    expect(log.seen.map((record) => record.data)).toEqual(sent.filter((record) => record.data !== 'poison').map((record) => String(record.data)));
    // The whole batch: the first try and two retries; then the poison alone: again three tries.
    expect(failures.filter((failure) => failure.records > 1).map((failure) => failure.attempt)).toEqual([1, 2]);
    expect(poisonAttempts).toBe(3);
    const messages = await sqs.receiveAll(queueUrl);
    expect(messages).toHaveLength(1);
    const body = JSON.parse(messages[0]!.Body!) as FailedRecordMessage;
    expect(body).toMatchObject({
      streamName,
      shardId: 'shardId-000000000000',
      sequenceNumber: put[20]!.sequenceNumber,
      partitionKey: 'key-poison',
      data: Buffer.from('poison').toString('base64'),
      dataBytes: 6,
      error: { name: 'Error', message: 'cannot parse the record' },
      attempts: 3,
    });
    expect((await table.get('shardId-000000000000'))!.checkpoint.sequenceNumber).toBe(put.at(-1)!.sequenceNumber);
  });

  it('retries only from the record a RecordProcessingError names, and sends a record too large for SQS without its data', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    const sqs = await local.sqs();
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const large = 'x'.repeat(900_000);
    const put = await local.kinesis.put(streamName, [...records(5, { prefix: 'before' }), { partitionKey: 'big', data: large }, ...records(5, { prefix: 'after' })]);
    const attempts = new Map<string, number>();
    const done: string[] = [];
    const consumer = local.consumer({
      streamName,
      leaseTableName,
      failureQueue: { sqs: sqs.client, queueUrl },
      processorRetries: 1,
      processor: async (batch) => {
        for (const record of batch) {
          const data = text(record.data);
          attempts.set(data.slice(0, 12), (attempts.get(data.slice(0, 12)) ?? 0) + 1);
          if (data === large) throw new RecordProcessingError(record.sequenceNumber, { cause: new Error('too big to handle') });
          done.push(data);
        }
      },
    }).start();
    await waitUntil(() => done.length === 10, 'the other records are processed');
    await consumer.stop();

    expect(done).toEqual([...records(5, { prefix: 'before' }), ...records(5, { prefix: 'after' })].map((record) => String(record.data)));
    expect([...attempts].filter(([data]) => data !== 'x'.repeat(12)).every(([, count]) => count === 1)).toBe(true);
    expect(attempts.get('x'.repeat(12))).toBe(2);
    const [message] = await sqs.receiveAll(queueUrl);
    const body = JSON.parse(message!.Body!) as FailedRecordMessage;
    expect(body).toMatchObject({ sequenceNumber: put[5]!.sequenceNumber, dataBytes: 900_000, error: { name: 'RecordProcessingError' } });
    expect(body.data).toBeUndefined();
    expect(Buffer.byteLength(message!.Body!)).toBeLessThan(1_048_576);
  });

  it('without a failure queue keeps retrying the failing record and never checkpoints past it', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    const put = await local.kinesis.put(streamName, [...records(3), { partitionKey: 'p', data: 'poison' }, ...records(3, { from: 3 })]);
    const log = new ProcessingLog();
    const consumer = local.consumer({
      streamName,
      leaseTableName,
      processorRetries: 1,
      checkpointIntervalMs: 0,
      processor: log.processor('a', async (batch) => {
        if (batch.some((record) => text(record.data) === 'poison')) throw new Error('downstream refuses it');
      }),
    }).start();
    await waitUntil(() => consumer.counters.batchFailures >= 8, 'the record keeps failing');
    await consumer.stop();

    expect(log.seen.map((record) => record.data)).toEqual(['r-0', 'r-1', 'r-2']);
    expect((await table.get('shardId-000000000000'))!.checkpoint.sequenceNumber).toBe(put[2]!.sequenceNumber);
  });
});
