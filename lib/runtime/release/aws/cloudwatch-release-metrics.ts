import { type CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandOutput, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { type Clock, systemClock } from '../../clock.ts';
import { METRIC_NAMESPACE, MetricDimension, MetricName, type ServiceName } from '../../metric-contract.ts';
import type { MetricReading, ReleaseMetrics, ReportMetric, TimeWindow, WindowReadings } from '../ports.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface CloudWatchReleaseMetricsProps {
  readonly client: CloudWatchClient;
  /** The Stage dimension's value. */
  readonly stage: string;
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

const MINUTE_SECONDS = 60;

/** The series read per window; ids are GetMetricData's (a lowercase letter first). */
type SeriesId = 'requests' | 'errors' | 'latency' | 'workerProcessed' | 'workerFailed' | 'lambdaProcessed' | 'lambdaFailed';

interface Series {
  readonly values: Map<number, number>;
  /** Forbidden or InternalError for this series: the metrics built on it are unreadable. */
  problem?: string;
}

/**
 * Reads the release report's metrics with one GetMetricData request per window (following
 * NextToken): per-minute sums of Requests (all, and StatusClass=5xx) and of JobsProcessed/JobsFailed
 * for the worker and the queue Lambda, and the p99 of Latency over the whole window (one period as
 * long as the window: a percentile cannot be put together from per-minute percentiles).
 *
 * The ratios are computed here from the window's totals rather than with metric math per minute:
 * averaging per-minute ratios would weigh a quiet minute like a busy one, and the totals also give
 * the sample counts the report needs to refuse judging too little traffic.
 */
export class CloudWatchReleaseMetrics implements ReleaseMetrics {
  private readonly props: CloudWatchReleaseMetricsProps;

  constructor(props: CloudWatchReleaseMetricsProps) {
    this.props = props;
  }

  async read(window: TimeWindow, signal?: AbortSignal): Promise<WindowReadings> {
    const windowSeconds = Math.max(MINUTE_SECONDS, Math.round((window.endMs - window.startMs) / 1000));
    const series = await this.fetch(this.queries(windowSeconds), window, signal);
    const total = (id: SeriesId) => sum(series[id].values);
    const minutes = (...ids: SeriesId[]) => new Set(ids.flatMap((id) => [...series[id].values.keys()])).size;
    const problemOf = (...ids: SeriesId[]) => ids.map((id) => series[id].problem).find((problem) => problem !== undefined);

    const requests = total('requests');
    const jobsFailed = total('workerFailed') + total('lambdaFailed');
    const jobs = total('workerProcessed') + total('lambdaProcessed') + jobsFailed;
    const [latency] = series.latency.values.values();
    const reading = (value: number | undefined, datapoints: number, samples: number, problem: string | undefined): MetricReading => ({
      ...(value === undefined ? {} : { value }),
      datapoints,
      samples,
      ...(problem === undefined ? {} : { problem }),
    });
    const readings: Record<ReportMetric, MetricReading> = {
      'p99-latency': reading(requests > 0 ? latency : undefined, minutes('requests'), requests, problemOf('latency', 'requests')),
      // No 5xx datapoints is no 5xx: the app publishes StatusClass=5xx only when it answers one.
      '5xx-rate': reading(requests > 0 ? total('errors') / requests : undefined, minutes('requests'), requests, problemOf('requests', 'errors')),
      'job-failure-rate': reading(
        jobs > 0 ? jobsFailed / jobs : undefined,
        minutes('workerProcessed', 'workerFailed', 'lambdaProcessed', 'lambdaFailed'),
        jobs,
        problemOf('workerProcessed', 'workerFailed', 'lambdaProcessed', 'lambdaFailed'),
      ),
    };
    return readings;
  }

  private queries(windowSeconds: number): MetricDataQuery[] {
    const { stage } = this.props;
    const stat = (id: SeriesId, metricName: string, service: ServiceName, statistic: string, period: number, statusClass?: string): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: METRIC_NAMESPACE,
          MetricName: metricName,
          Dimensions: [
            { Name: MetricDimension.stage, Value: stage },
            { Name: MetricDimension.service, Value: service },
            ...(statusClass ? [{ Name: MetricDimension.statusClass, Value: statusClass }] : []),
          ],
        },
        Period: period,
        Stat: statistic,
      },
      ReturnData: true,
    });
    return [
      stat('requests', MetricName.requests, 'web', 'Sum', MINUTE_SECONDS),
      stat('errors', MetricName.requests, 'web', 'Sum', MINUTE_SECONDS, '5xx'),
      stat('latency', MetricName.latency, 'web', 'p99', windowSeconds),
      stat('workerProcessed', MetricName.jobsProcessed, 'worker', 'Sum', MINUTE_SECONDS),
      stat('workerFailed', MetricName.jobsFailed, 'worker', 'Sum', MINUTE_SECONDS),
      stat('lambdaProcessed', MetricName.jobsProcessed, 'queue-lambda', 'Sum', MINUTE_SECONDS),
      stat('lambdaFailed', MetricName.jobsFailed, 'queue-lambda', 'Sum', MINUTE_SECONDS),
    ];
  }

  /** Every page of one request, merged by query id: a result marked PartialData continues on the next page. */
  private async fetch(queries: MetricDataQuery[], window: TimeWindow, signal?: AbortSignal): Promise<Record<SeriesId, Series>> {
    const series = Object.fromEntries(queries.map((query) => [query.Id, { values: new Map<number, number>() }])) as Record<SeriesId, Series>;
    let nextToken: string | undefined;
    do {
      const page: GetMetricDataCommandOutput = await callAws(
        {
          clock: this.props.clock ?? systemClock,
          operation: 'GetMetricData',
          subject: `the release report's metrics of stage ${this.props.stage}`,
          hint: 'check that the credentials allow cloudwatch:GetMetricData and the AWS region',
          signal,
          retry: this.props.retry,
        },
        (abortSignal) =>
          this.props.client.send(
            new GetMetricDataCommand({
              MetricDataQueries: queries,
              StartTime: new Date(window.startMs),
              EndTime: new Date(window.endMs),
              ScanBy: 'TimestampAscending',
              NextToken: nextToken,
            }),
            { abortSignal },
          ),
      );
      for (const result of page.MetricDataResults ?? []) {
        const target = series[result.Id as SeriesId];
        if (!target) continue;
        const timestamps = result.Timestamps ?? [];
        (result.Values ?? []).forEach((value, index) => {
          const at = timestamps[index];
          if (at !== undefined) target.values.set(at.getTime(), value);
        });
        if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
          target.problem = `CloudWatch answered ${result.StatusCode} for ${result.Label ?? result.Id}${result.Messages?.length ? ` (${result.Messages.map((message) => message.Value).join('; ')})` : ''}`;
        }
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return series;
  }
}

function sum(values: Map<number, number>): number {
  let total = 0;
  for (const value of values.values()) total += value;
  return total;
}
