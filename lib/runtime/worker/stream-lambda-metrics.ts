// The Lambda stream consumer's metrics (Service stream-lambda): StreamRecordsProcessed, the records
// before the first one reported not done in each shard (Lambda checkpoints exactly there), or none
// when the whole invocation failed (it throws, and Lambda retries it all). StreamRecordsFailed is not
// published here: a record that keeps failing reaches the failure queue through the event source's
// on-failure destination, which Lambda sends without the function seeing it; the failure queue's
// own NumberOfMessagesSent counts those. Written at the end of every invocation, before the sandbox
// can be frozen.
import type { EmbeddedMetrics, MetricSeries } from '../embedded-metrics.ts';
import { MetricName, SERVICE_DIMENSION_SETS } from '../metric-contract.ts';
import { createKinesisBatchProcessor, type KinesisBatchProcessor, type KinesisBatchProcessorOptions, toStreamRecord } from '../stream/kinesis-batch-processor.ts';

const SERIES: MetricSeries = { dimensionSets: SERVICE_DIMENSION_SETS };

/** createKinesisBatchProcessor with the records processed in each invocation written before it returns. */
export function createMeasuredKinesisBatchProcessor(options: KinesisBatchProcessorOptions, metrics: EmbeddedMetrics): KinesisBatchProcessor {
  const processBatch = createKinesisBatchProcessor(options);
  return async (event, context) => {
    let processed = 0;
    try {
      const response = await processBatch(event, context);
      const notDone = new Set(response.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier));
      const stoppedShards = new Set<string>();
      for (const record of (event.Records ?? []).map(toStreamRecord)) {
        if (notDone.has(record.sequenceNumber)) stoppedShards.add(record.shardId);
        if (!stoppedShards.has(record.shardId)) processed += 1;
      }
      return response;
    } finally {
      metrics.count(SERIES, MetricName.streamRecordsProcessed, processed);
      metrics.flush();
    }
  };
}
