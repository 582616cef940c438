// The Lambda queue consumer's job metrics (Service queue-lambda), in the same names as the instance
// worker's: JobsRetried from the event (ApproximateReceiveCount > 1), JobsProcessed and JobsFailed
// from the partial batch response (Lambda deletes exactly the messages not reported failed, and
// retries exactly the ones reported: a handler failure, a body that did not parse, or a message the
// invocation's deadline left unfinished), JobDuration per handler run. Written at the end of every
// invocation: Lambda may freeze the sandbox as soon as the handler returns, and its log group
// extracts the metrics without an agent.
import type { EmbeddedMetrics, MetricSeries } from '../embedded-metrics.ts';
import { MetricName, SERVICE_DIMENSION_SETS } from '../metric-contract.ts';
import { createSqsBatchProcessor, type SqsBatchProcessor, type SqsBatchProcessorOptions } from '../queue/sqs-batch-processor.ts';

const SERIES: MetricSeries = { dimensionSets: SERVICE_DIMENSION_SETS };

/** createSqsBatchProcessor with the job metrics of each invocation written before it returns. */
export function createMeasuredSqsBatchProcessor<Body>(options: SqsBatchProcessorOptions<Body>, metrics: EmbeddedMetrics): SqsBatchProcessor {
  const { handler } = options;
  const processBatch = createSqsBatchProcessor<Body>({
    ...options,
    handler: async (message, context) => {
      const startedAt = performance.now();
      try {
        await handler(message, context);
      } finally {
        metrics.observe(SERIES, MetricName.jobDuration, 'Milliseconds', performance.now() - startedAt);
      }
    },
  });
  return async (event, context) => {
    const records = event.Records ?? [];
    try {
      const response = await processBatch(event, context);
      const failed = response.batchItemFailures.length;
      metrics.count(SERIES, MetricName.jobsProcessed, records.length - failed);
      metrics.count(SERIES, MetricName.jobsFailed, failed);
      metrics.count(SERIES, MetricName.jobsRetried, records.filter((record) => Number(record.attributes?.ApproximateReceiveCount ?? 1) > 1).length);
      return response;
    } finally {
      metrics.flush();
    }
  };
}
