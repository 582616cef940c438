// What the web app publishes per request (Requests, Latency by route and status class) and per job
// it accepts (JobsAccepted), in the names and dimension sets of metric-contract.ts.
import type { EmbeddedMetrics, MetricSeries } from '../embedded-metrics.ts';
import { MetricDimension, MetricName, REQUEST_DIMENSION_SETS, SERVICE_DIMENSION_SETS, statusClassOf } from '../metric-contract.ts';

const JOBS_SERIES: MetricSeries = { dimensionSets: SERVICE_DIMENSION_SETS };

export class RequestMetrics {
  constructor(private readonly metrics: EmbeddedMetrics) {}

  /** `route` is the matched route pattern (never the raw path) or UNMATCHED_ROUTE. */
  answered(route: string, status: number, latencyMs: number): void {
    const series: MetricSeries = {
      dimensions: { [MetricDimension.route]: route, [MetricDimension.statusClass]: statusClassOf(status) },
      dimensionSets: REQUEST_DIMENSION_SETS,
    };
    this.metrics.count(series, MetricName.requests);
    // Microseconds are noise at this scale; three decimals keep the lines short.
    this.metrics.observe(series, MetricName.latency, 'Milliseconds', Math.round(latencyMs * 1000) / 1000);
  }

  jobAccepted(): void {
    this.metrics.count(JOBS_SERIES, MetricName.jobsAccepted);
  }
}
