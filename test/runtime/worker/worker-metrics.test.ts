// The instance worker's metrics, from real messages through local SQS and real records through
// kinesalite: the lines are embedded metric format documents (Service worker, [Stage, Service]),
// and the counts are what the queue processor and the stream consumer actually did.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';
import { QueueProcessor } from '../../../lib/runtime/queue/queue-processor.ts';
import { serviceMetrics } from '../../../lib/runtime/service-metrics.ts';
import type { RecordProcessor } from '../../../lib/runtime/stream/stream-record.ts';
import { publishQueueMetrics } from '../../../lib/runtime/worker/queue-processor-metrics.ts';
import { publishStreamMetrics } from '../../../lib/runtime/worker/stream-consumer-metrics.ts';
import { dataPoints, dimensionSetsOf, emfDocuments, samplesOf, sumOf } from '../../helpers/emf.ts';
import { records, useLocalStream, waitUntil } from '../stream/stream-harness.ts';

const local = useLocalStream();

const WORKER = { Stage: 'dev', Service: 'worker' };

function capturedMetrics() {
  const lines: string[] = [];
  const metrics = serviceMetrics({ service: 'worker', env: { SLUICE_STAGE: 'dev' }, logger: silentLogger, write: (line) => lines.push(line), flushIntervalMs: 200 });
  return { metrics, points: () => dataPoints(emfDocuments(lines)) };
}

describe('worker metrics', () => {
  it('counts jobs processed, failed and retried, and every handler run, as the queue processor handled them', async () => {
    const sqs = await local.sqs();
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const { metrics, points } = capturedMetrics();
    const handled: string[] = [];
    const processor = new QueueProcessor<string>({
      sqs: sqs.client,
      queueUrl,
      waitTimeSeconds: 1,
      // A failed message is visible again at once, so the retry comes within the test.
      failureBackoff: { initialSeconds: 0, maxSeconds: 0 },
      logger: silentLogger,
      handler: async (message, { receiveCount }) => {
        // Flaky jobs fail their first attempt and succeed the second.
        if (message.body.startsWith('flaky') && receiveCount === 1) throw new Error('the external API timed out');
        handled.push(message.body);
      },
    });
    publishQueueMetrics(processor, metrics);
    metrics.start();
    processor.start();
    await sqs.send(queueUrl, ['good-1', 'good-2', 'good-3', 'flaky-1', 'flaky-2']);
    await waitUntil(() => handled.length === 5, 'every job is handled', 20_000);
    await processor.stop({ deadline: 1_000 });
    await metrics.stop();

    const all = points();
    expect(sumOf(all, 'JobsProcessed', WORKER)).toBe(5);
    expect(sumOf(all, 'JobsFailed', WORKER)).toBe(2);
    expect(sumOf(all, 'JobsRetried', WORKER)).toBe(2);
    // Seven handler runs: five that succeeded and the two first attempts that failed.
    const durations = samplesOf(all, 'JobDuration', WORKER);
    expect(durations).toHaveLength(7);
    expect(durations.every((duration) => duration >= 0)).toBe(true);
    expect(all.filter((point) => point.name === 'JobDuration').every((point) => point.unit === 'Milliseconds')).toBe(true);
    expect(all.filter((point) => point.name.startsWith('Jobs')).every((point) => point.unit === 'Count')).toBe(true);
    for (const name of ['JobsProcessed', 'JobsFailed', 'JobsRetried', 'JobDuration']) expect(dimensionSetsOf(all, name)).toEqual([['Service', 'Stage']]);
  });

  it('counts stream records processed and sent to the failure queue, as the stream consumer did', async () => {
    const { streamName, leaseTableName } = await local.fixture(2);
    const sqs = await local.sqs();
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const sent = [...records(30, { prefix: 'before' }), { partitionKey: 'key-poison', data: 'poison' }, ...records(30, { prefix: 'after' })];
    await local.kinesis.put(streamName, sent);
    const { metrics, points } = capturedMetrics();
    let processed = 0;
    const processor: RecordProcessor = async (batch) => {
      if (batch.some((record) => Buffer.from(record.data).toString() === 'poison')) throw new Error('cannot parse the record');
      processed += batch.length;
    };
    // No retries: the poison record goes to the failure queue as soon as it is found alone.
    const consumer = local.consumer({ streamName, leaseTableName, processor, processorRetries: 0, failureQueue: { sqs: sqs.client, queueUrl } });
    publishStreamMetrics(consumer, metrics);
    metrics.start();
    consumer.start();
    await waitUntil(() => processed === 60, 'every record but the poison one is processed', 20_000);
    await consumer.stop();
    await metrics.stop();

    const all = points();
    expect(sumOf(all, 'StreamRecordsProcessed', WORKER)).toBe(60);
    expect(sumOf(all, 'StreamRecordsFailed', WORKER)).toBe(1);
    expect(dimensionSetsOf(all, 'StreamRecordsProcessed')).toEqual([['Service', 'Stage']]);
    expect(dimensionSetsOf(all, 'StreamRecordsFailed')).toEqual([['Service', 'Stage']]);
  });
});
