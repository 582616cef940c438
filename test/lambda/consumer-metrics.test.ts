// The shipped Lambda handlers' metrics: before an invocation returns (Lambda may freeze the sandbox
// right after) its standard output holds embedded metric format documents, Service queue-lambda or
// stream-lambda, Stage from SLUICE_STAGE, whose counts are what the invocation did.
import type { Context, KinesisStreamRecord, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dataPoints, dimensionSetsOf, emfDocuments, samplesOf, sumOf } from '../helpers/emf.ts';

type Handlers = [typeof import('../../lambda/queue-consumer.ts'), typeof import('../../lambda/stream-consumer.ts')];
let handlers: Handlers;
beforeAll(async () => {
  // The function's environment, as the stack sets it, read when the module loads (the cold start).
  // A fresh module graph: another file in this worker (isolate: false) may have loaded the handlers.
  vi.resetModules();
  vi.stubEnv('SLUICE_STAGE', 'prod');
  handlers = await Promise.all([import('../../lambda/queue-consumer.ts'), import('../../lambda/stream-consumer.ts')]);
  vi.unstubAllEnvs();
});
// Files after this one in the worker load the handlers without the prod stage.
afterAll(() => vi.resetModules());
afterEach(() => vi.restoreAllMocks());

function captureStdout(): () => string[] {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
  return () => written.flatMap((chunk) => chunk.split('\n'));
}

const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'request-1' } as Context;

function sqsRecord(messageId: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '1767225600000', SenderId: 'AIDAEXAMPLE', ApproximateFirstReceiveTimestamp: '1767225600100' },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:work',
    awsRegion: 'eu-west-1',
  };
}

function kinesisRecord(n: number, data: string, shardId = 'shardId-000000000000'): KinesisStreamRecord {
  const sequenceNumber = `4959033827149025660855969253836157109592157598913658${String(n).padStart(4, '0')}`;
  return {
    awsRegion: 'eu-west-1',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/sluice-prod-events',
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/stream-consumer',
    kinesis: { kinesisSchemaVersion: '1.0', partitionKey: `key-${n}`, sequenceNumber, data: Buffer.from(data).toString('base64'), approximateArrivalTimestamp: 1767225600 + n },
  };
}

describe('lambda/queue-consumer metrics', () => {
  it('counts the jobs processed, failed and retried in the invocation and times every handler run', async () => {
    const lines = captureStdout();
    const [{ handler }] = handlers;
    const response = await handler(
      {
        Records: [
          sqsRecord('m1', JSON.stringify({ type: 'send-invoice', invoiceId: 1 })),
          sqsRecord('m2', '{not json'),
          sqsRecord('m3', JSON.stringify({ invoiceId: 3 }), 4),
          sqsRecord('m4', JSON.stringify({ type: 'send-reminder' }), 3),
          sqsRecord('m5', JSON.stringify({ type: 'send-invoice', invoiceId: 5 }), 2),
        ],
      },
      context,
      () => undefined,
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    // Already written when the handler returns.
    const points = dataPoints(emfDocuments(lines()));
    const service = { Stage: 'prod', Service: 'queue-lambda' };
    expect(sumOf(points, 'JobsProcessed', service)).toBe(3);
    expect(sumOf(points, 'JobsFailed', service)).toBe(2);
    expect(sumOf(points, 'JobsRetried', service)).toBe(3);
    // Three handler runs: the two unparseable bodies never reached the handler.
    expect(samplesOf(points, 'JobDuration', service)).toHaveLength(3);
    for (const name of ['JobsProcessed', 'JobsFailed', 'JobsRetried', 'JobDuration']) expect(dimensionSetsOf(points, name)).toEqual([['Service', 'Stage']]);
  });
});

describe('lambda/stream-consumer metrics', () => {
  it('counts the records before the first one not done in each shard', async () => {
    const lines = captureStdout();
    const [, { handler }] = handlers;
    const response = await handler(
      {
        Records: [
          kinesisRecord(1, JSON.stringify({ type: 'a' })),
          kinesisRecord(2, JSON.stringify({ type: 'b' })),
          kinesisRecord(3, '{not json'),
          kinesisRecord(4, JSON.stringify({ type: 'd' })),
          kinesisRecord(5, JSON.stringify({ type: 'e' }), 'shardId-000000000001'),
        ],
      },
      context,
      () => undefined,
    );
    expect(response!.batchItemFailures).toHaveLength(1);
    const points = dataPoints(emfDocuments(lines()));
    expect(sumOf(points, 'StreamRecordsProcessed', { Stage: 'prod', Service: 'stream-lambda' })).toBe(3);
    expect(dimensionSetsOf(points, 'StreamRecordsProcessed')).toEqual([['Service', 'Stage']]);
  });

  it('counts nothing processed when the whole invocation failed (Lambda retries all of it)', async () => {
    const lines = captureStdout();
    const [, { handler }] = handlers;
    await expect(handler({ Records: [kinesisRecord(1, '{not json'), kinesisRecord(2, JSON.stringify({ type: 'b' }))] }, context, () => undefined)).rejects.toMatchObject({ name: 'BatchNotProcessedError' });
    const points = dataPoints(emfDocuments(lines()));
    expect(sumOf(points, 'StreamRecordsProcessed', { Stage: 'prod', Service: 'stream-lambda' })).toBe(0);
  });
});
