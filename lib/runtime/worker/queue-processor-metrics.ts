// The instance worker's job metrics, from the QueueProcessor's events: JobsProcessed (handled and
// deleted), JobsFailed (handler threw, timed out or the body did not parse), JobsRetried (received
// again after an earlier attempt), JobDuration (every handler run, failed ones included, so a
// handler that got slower or started timing out shows in the percentiles).
import type { EmbeddedMetrics, MetricSeries } from '../embedded-metrics.ts';
import { MetricName, SERVICE_DIMENSION_SETS } from '../metric-contract.ts';
import type { QueueProcessorEvents } from '../queue/queue-processor-events.ts';

/** What is needed of a QueueProcessor: its events. */
export interface QueueEventSource {
  on<Name extends keyof QueueProcessorEvents & string>(name: Name, listener: (payload: QueueProcessorEvents[Name]) => void): unknown;
}

const SERIES: MetricSeries = { dimensionSets: SERVICE_DIMENSION_SETS };

export function publishQueueMetrics(processor: QueueEventSource, metrics: EmbeddedMetrics): void {
  processor.on('received', ({ receiveCount }) => {
    if (receiveCount > 1) metrics.count(SERIES, MetricName.jobsRetried);
  });
  processor.on('processed', ({ durationMs }) => {
    metrics.count(SERIES, MetricName.jobsProcessed);
    metrics.observe(SERIES, MetricName.jobDuration, 'Milliseconds', durationMs);
  });
  processor.on('failed', ({ durationMs }) => {
    metrics.count(SERIES, MetricName.jobsFailed);
    metrics.observe(SERIES, MetricName.jobDuration, 'Milliseconds', durationMs);
  });
}
