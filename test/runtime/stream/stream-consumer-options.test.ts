// Options are checked once, at construction, and every problem is listed in one error.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { InvalidStreamConsumerOptionsError } from '../../../lib/runtime/stream/errors.ts';
import { resolveStreamConsumerOptions } from '../../../lib/runtime/stream/stream-consumer-options.ts';
import { StreamConsumer } from '../../../lib/runtime/stream/stream-consumer.ts';

const clients = { kinesis: new KinesisClient({ region: 'us-east-1' }), dynamodb: new DynamoDBClient({ region: 'us-east-1' }) };
const valid = { ...clients, streamName: 'events', leaseTableName: 'events-leases', processor: async () => undefined };

describe('StreamConsumer options', () => {
  it('defaults to 10 s leases renewed every third, a scan every 500 ms, TRIM_HORIZON, 10 s between checkpoints and 3 retries', () => {
    const resolved = resolveStreamConsumerOptions(valid);
    expect(resolved).toMatchObject({
      leaseDurationMs: 10_000,
      renewIntervalMs: 3_333,
      leaseScanIntervalMs: 500,
      initialPosition: { checkpoint: 'TRIM_HORIZON' },
      maxRecordsPerCall: 10_000,
      idleWaitMs: 1_000,
      checkpointIntervalMs: 10_000,
      processorRetries: 3,
      stopDeadlineMs: 30_000,
    });
    expect(resolved.workerId).toMatch(/^.+:\d+:[0-9a-f]{8}$/);
    expect(resolveStreamConsumerOptions({ ...valid, initialPosition: { timestamp: new Date(Date.UTC(2026, 0, 1)) } }).initialPosition).toEqual({
      checkpoint: 'AT_TIMESTAMP',
      timestamp: Date.UTC(2026, 0, 1),
    });
  });

  it('lists every problem in one error', () => {
    let error: unknown;
    try {
      new StreamConsumer({
        ...valid,
        streamName: 'bad name!',
        leaseTableName: 'x',
        leaseDurationMs: 100,
        maxRecordsPerCall: 20_000,
        processorRetries: -1,
        initialPosition: 'EARLIEST' as never,
        failureQueue: { sqs: {} as never, queueUrl: 'queue' },
        awsRetryBackoff: { initialMs: 500, maxMs: 100 },
      });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidStreamConsumerOptionsError);
    expect((error as InvalidStreamConsumerOptionsError).problems).toEqual([
      `initialPosition must be 'TRIM_HORIZON', 'LATEST' or { timestamp: Date } (given "EARLIEST")`,
      'streamName must be a Kinesis stream name (1–128 of a-z A-Z 0-9 _ . -) (given "bad name!")',
      'leaseTableName must be a DynamoDB table name (3–255 of a-z A-Z 0-9 _ . -) (given "x")',
      'failureQueue.sqs must be an SQSClient',
      'failureQueue.queueUrl must be a queue URL (given "queue")',
      'leaseDurationMs must be a whole number between 300 and 86400000 milliseconds (given 100)',
      'maxRecordsPerCall must be a whole number between 1 and 10000 (given 20000)',
      'processorRetries must be a whole number between 0 and 100 (given -1)',
      'awsRetryBackoff.maxMs must be a whole number between 500 and 3600000 milliseconds (given 100)',
    ]);
  });
});
