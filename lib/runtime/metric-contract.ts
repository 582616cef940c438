// The metrics the runtime publishes and the stack alarms on, graphs and compares: one namespace, a
// few bounded dimensions, fixed names. CDK-free, so the app, the worker, the release CLI and the
// constructs all take the names from here and cannot drift apart.

/** The CloudWatch namespace of every metric sluice publishes itself (the app's, the worker's, the release marker). */
export const METRIC_NAMESPACE = 'sluice';

/**
 * Dimension names. Values are bounded: a stage name, one of SERVICES, a route pattern (never a
 * path with ids in it), a status class. Never a message id, user id or version.
 */
export const MetricDimension = {
  stage: 'Stage',
  service: 'Service',
  route: 'Route',
  statusClass: 'StatusClass',
} as const;

/** What publishes a metric: the web app, the instance worker, and the two Lambda consumers. */
export const SERVICES = ['web', 'worker', 'queue-lambda', 'stream-lambda'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** HTTP status classes, the StatusClass dimension's values. */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** The status class of an HTTP status code. */
export function statusClassOf(status: number): StatusClass {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  return '2xx';
}

/**
 * Metric names and what publishes each. Every metric is published with the dimension set
 * [Stage, Service]; request metrics also with [Stage, Service, StatusClass] and
 * [Stage, Service, Route, StatusClass], so an alarm or a report reads the total, the 5xx share or
 * one route without summing dimension combinations.
 */
export const MetricName = {
  /** web, Count: one per HTTP request answered. */
  requests: 'Requests',
  /** web, Milliseconds: time from request to response, per request. */
  latency: 'Latency',
  /** web, Count: one per job accepted by POST /jobs (sent to the work queue). */
  jobsAccepted: 'JobsAccepted',
  /** worker / queue-lambda, Count: one per job whose handler succeeded (message deleted). */
  jobsProcessed: 'JobsProcessed',
  /** worker / queue-lambda, Count: one per handler failure (the message will be retried or dead-lettered). */
  jobsFailed: 'JobsFailed',
  /** worker / queue-lambda, Count: one per job received again after an earlier failed attempt (ApproximateReceiveCount > 1). */
  jobsRetried: 'JobsRetried',
  /** worker / queue-lambda, Milliseconds: handler duration per job. */
  jobDuration: 'JobDuration',
  /** worker / stream-lambda, Count: records processed successfully. */
  streamRecordsProcessed: 'StreamRecordsProcessed',
  /** worker / stream-lambda, Count: records sent to the stream failure queue after the bounded retries. */
  streamRecordsFailed: 'StreamRecordsFailed',
  /**
   * sluice release, Count, dimension set [Stage] only (published with PutMetricData, not EMF): one
   * data point of 1 when a release starts, when each target switches, and when it ends or rolls back.
   */
  releaseMarker: 'ReleaseMarker',
} as const;

/** The dimension sets of every metric but the request metrics: [Stage, Service]. */
export const SERVICE_DIMENSION_SETS = [[MetricDimension.stage, MetricDimension.service]] as const;

/** The request metrics' (Requests, Latency) dimension sets: the total, per status class, per route and status class. */
export const REQUEST_DIMENSION_SETS = [
  [MetricDimension.stage, MetricDimension.service],
  [MetricDimension.stage, MetricDimension.service, MetricDimension.statusClass],
  [MetricDimension.stage, MetricDimension.service, MetricDimension.route, MetricDimension.statusClass],
] as const;

/** The Route value of a request whose path matches no route: one value however many paths are probed. */
export const UNMATCHED_ROUTE = 'unmatched';
