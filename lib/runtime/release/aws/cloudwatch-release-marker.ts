import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { type Clock, systemClock } from '../../clock.ts';
import { METRIC_NAMESPACE, MetricDimension, MetricName } from '../../metric-contract.ts';
import type { ReleaseMarker, ReleaseMarkerEvent } from '../ports.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface CloudWatchReleaseMarkerProps {
  readonly client: CloudWatchClient;
  /** The Stage dimension's value: the dashboard of that stage overlays the marker. */
  readonly stage: string;
  /** Waits between retries. @default systemClock */
  readonly clock?: Clock;
  /**
   * A marker is worth a retry or two, never a stalled release: a throttled or failing publish is
   * tried three times in all, then given up with a warning.
   * @default - 3 attempts, 200 ms then 400 ms apart
   */
  readonly retry?: RetryPolicy;
}

/**
 * The release marker: one ReleaseMarker data point (namespace sluice, dimension Stage only, Count,
 * value 1) per release event, timestamped when it happened. PutMetricData rather than the embedded
 * metric format: the CLI runs in CI, where no log group turns its output into metrics.
 */
export class CloudWatchReleaseMarker implements ReleaseMarker {
  private readonly props: CloudWatchReleaseMarkerProps;

  constructor(props: CloudWatchReleaseMarkerProps) {
    this.props = props;
  }

  async publish(event: ReleaseMarkerEvent, signal?: AbortSignal): Promise<void> {
    const { client, stage } = this.props;
    await callAws(
      {
        clock: this.props.clock ?? systemClock,
        operation: 'PutMetricData',
        subject: `the ${event.kind} release marker of stage ${stage}`,
        hint: `check that the credentials allow cloudwatch:PutMetricData in namespace ${METRIC_NAMESPACE}`,
        signal,
        retry: this.props.retry ?? { maxAttempts: 3, baseDelayMs: 200 },
      },
      (abortSignal) =>
        client.send(
          new PutMetricDataCommand({
            Namespace: METRIC_NAMESPACE,
            MetricData: [{
              MetricName: MetricName.releaseMarker,
              Dimensions: [{ Name: MetricDimension.stage, Value: stage }],
              Timestamp: new Date(event.at),
              Value: 1,
              Unit: 'Count',
            }],
          }),
          { abortSignal },
        ),
    );
  }
}
