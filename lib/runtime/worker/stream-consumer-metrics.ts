// The instance worker's stream metrics: StreamRecordsProcessed and StreamRecordsFailed (sent to the
// failure queue), taken as differences of the StreamConsumer's counters. The counters are exact —
// `batchProcessed` alone would miss the part of a batch done before its lease was lost, and counts a
// record sent to the failure queue as processed — so each event the consumer reports after progress
// publishes what the counters gained since the last one; `stopped` publishes the rest.
import type { EmbeddedMetrics, MetricSeries } from '../embedded-metrics.ts';
import { MetricName, SERVICE_DIMENSION_SETS } from '../metric-contract.ts';
import type { StreamConsumerCounters, StreamConsumerEvents } from '../stream/stream-consumer-events.ts';

/** What is needed of a StreamConsumer: its events and counters. */
export interface StreamEventSource {
  on<Name extends keyof StreamConsumerEvents & string>(name: Name, listener: (payload: StreamConsumerEvents[Name]) => void): unknown;
  readonly counters: Pick<StreamConsumerCounters, 'recordsProcessed' | 'recordsSentToFailureQueue'>;
}

const SERIES: MetricSeries = { dimensionSets: SERVICE_DIMENSION_SETS };

/** Events that follow progress: a finished batch, a retry, a record sent away, a checkpoint, a lost lease, the stop. */
const AFTER_PROGRESS = ['batchProcessed', 'batchFailed', 'sentToFailureQueue', 'checkpoint', 'leaseLost', 'stopped'] as const;

export function publishStreamMetrics(consumer: StreamEventSource, metrics: EmbeddedMetrics): void {
  let published = { processed: consumer.counters.recordsProcessed, failed: consumer.counters.recordsSentToFailureQueue };
  const publish = (): void => {
    const now = { processed: consumer.counters.recordsProcessed, failed: consumer.counters.recordsSentToFailureQueue };
    if (now.processed > published.processed) metrics.count(SERIES, MetricName.streamRecordsProcessed, now.processed - published.processed);
    if (now.failed > published.failed) metrics.count(SERIES, MetricName.streamRecordsFailed, now.failed - published.failed);
    published = now;
  };
  for (const name of AFTER_PROGRESS) consumer.on(name, publish);
}
