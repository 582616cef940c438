import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_NAMESPACE, MetricDimension, MetricName, type ServiceName } from '../../runtime/metric-contract.ts';

/** A metric of the contract, by its key in MetricName. */
export type MetricKey = keyof typeof MetricName;

/**
 * The metrics sluice publishes itself (the services' embedded-metric-format lines, the release
 * marker) for one stage, by the names in lib/runtime/metric-contract.ts. Every metric is read with
 * the dimension set [Stage, Service], the one every service publishes; the marker with [Stage] only.
 */
export class SluiceMetrics {
  constructor(private readonly stage: string) {}

  /** One of a service's metrics, per minute unless `props` says otherwise. */
  metric(service: ServiceName, name: MetricKey, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: MetricName[name],
      dimensionsMap: { [MetricDimension.stage]: this.stage, [MetricDimension.service]: service },
      statistic: 'Sum',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** The web app's own request time at the 99th percentile (milliseconds), per minute unless `props` says otherwise. */
  latencyP99(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('web', 'latency', { statistic: 'p99', label: 'app p99 (ms)', ...props });
  }

  /**
   * Percentage of `failed` among `failed` + `succeeded` of one service, per minute. A minute
   * without either counts as 0 % (nothing failed); a window with no data at all stays missing.
   */
  failureRate(service: ServiceName, failed: MetricKey, succeeded: MetricKey, label: string, period = Duration.minutes(1)): cloudwatch.MathExpression {
    // Ids unique per service and metric, so several rates fit on one graph.
    const [f, s] = [failed, succeeded].map((key) => `${key}_${service.replace('-', '_')}`);
    return new cloudwatch.MathExpression({
      expression: `IF(FILL(${f}, 0) + FILL(${s}, 0) > 0, 100 * FILL(${f}, 0) / (FILL(${f}, 0) + FILL(${s}, 0)), 0)`,
      usingMetrics: { [f]: this.metric(service, failed, { period }), [s]: this.metric(service, succeeded, { period }) },
      label,
      period,
    });
  }

  /**
   * The release marker `sluice release` publishes (Sum per minute, dimension Stage only): 1 when a
   * release starts, when each target switches and when it ends or rolls back, nothing in between.
   */
  releaseMarker(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: MetricName.releaseMarker,
      dimensionsMap: { [MetricDimension.stage]: this.stage },
      statistic: 'Sum',
      period: Duration.minutes(1),
      label: 'release steps',
      color: '#9467bd',
    });
  }
}
