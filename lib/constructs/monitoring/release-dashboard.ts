import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { AppTier } from '../app-tier/app-tier.ts';
import type { EventStream } from '../event-stream/event-stream.ts';
import type { WorkQueue } from '../work-queue/work-queue.ts';
import type { ServiceName } from '../../runtime/metric-contract.ts';
import type { MetricKey, SluiceMetrics } from './sluice-metrics.ts';

export interface ReleaseDashboardProps {
  readonly stageName: string;
  readonly metrics: SluiceMetrics;
  readonly appTier: AppTier;
  readonly workQueue: WorkQueue;
  readonly eventStream: EventStream;
  /** Width of the latency anomaly band the alarm uses, so the graph shows the same band. */
  readonly latencyAnomalyBandWidth: number;
  readonly releaseGate: cloudwatch.IAlarm;
  /** Read when the dashboard is rendered, so alarms added after the dashboard appear too. */
  readonly alarms: readonly cloudwatch.Alarm[];
}

/**
 * The stage's dashboard, one row of widgets per question a person asks after a release: is it
 * serving, is it slower, are jobs and events flowing, is anything failing. The release marker (purple
 * points, right axis) is overlaid on latency, the 5xx rate and the business metrics, so each release
 * step sits on the same time axis as its effect.
 */
export function releaseDashboard(props: ReleaseDashboardProps): cloudwatch.IWidget[][] {
  const { metrics, appTier, workQueue, eventStream } = props;
  const queueLambda = workQueue.consumerFunction;
  const streamLambda = eventStream.consumerFunction;
  const withMarker = (title: string, left: cloudwatch.IMetric[], width = 8): cloudwatch.GraphWidget => new cloudwatch.GraphWidget({
    title,
    left,
    right: [metrics.releaseMarker()],
    rightYAxis: { min: 0, label: 'release steps', showUnits: false },
    width,
    height: 6,
  });
  const graph = (title: string, left: cloudwatch.IMetric[], width = 8): cloudwatch.GraphWidget => new cloudwatch.GraphWidget({ title, left, width, height: 6 });
  const heading = (markdown: string): cloudwatch.TextWidget => new cloudwatch.TextWidget({ markdown, width: 24, height: 1 });

  // Five-minute p99, as the anomaly alarm judges it (a one-minute band would not be the alarm's).
  const appP99 = metrics.latencyP99({ period: Duration.minutes(5), label: 'app p99 (ms, 5 min)' });
  // Successes and failures per consumer: the instance worker's, and the Lambda's when there is one.
  const outcomes = (processed: MetricKey, failed: MetricKey, failedLabel: string, lambdaService?: ServiceName): cloudwatch.IMetric[] =>
    (['worker', ...(lambdaService ? [lambdaService] : [])] as ServiceName[]).flatMap((service) => {
      const who = service === 'worker' ? 'worker' : 'Lambda';
      return [metrics.metric(service, processed, { label: `processed (${who})` }), metrics.metric(service, failed, { label: `${failedLabel} (${who})` })];
    });
  const jobs = [
    metrics.metric('web', 'jobsAccepted', { label: 'accepted (web)' }),
    ...outcomes('jobsProcessed', 'jobsFailed', 'failed', queueLambda ? 'queue-lambda' : undefined),
  ];
  const records = outcomes('streamRecordsProcessed', 'streamRecordsFailed', 'to the failure queue', streamLambda ? 'stream-lambda' : undefined);
  const failureRates = [
    metrics.failureRate('worker', 'jobsFailed', 'jobsProcessed', 'jobs failed % (worker)'),
    metrics.failureRate('worker', 'streamRecordsFailed', 'streamRecordsProcessed', 'stream records failed % (worker)'),
    ...(queueLambda ? [metrics.failureRate('queue-lambda', 'jobsFailed', 'jobsProcessed', 'jobs failed % (Lambda)')] : []),
    ...(streamLambda ? [metrics.failureRate('stream-lambda', 'streamRecordsFailed', 'streamRecordsProcessed', 'stream records failed % (Lambda)')] : []),
  ];
  const lambdas: [string, lambda.IFunction][] = [
    ...(queueLambda ? [['work queue', queueLambda] as [string, lambda.IFunction]] : []),
    ...(streamLambda ? [['event stream', streamLambda] as [string, lambda.IFunction]] : []),
  ];
  const alarmList = { gate: props.releaseGate, alarms: props.alarms };

  return [
    [new cloudwatch.TextWidget({
      markdown: `# sluice-${props.stageName}\nPurple points on the right axis are release steps (\`sluice release\`: start, each target switched, end or rollback). Compare each graph before and after them; the release gate and every alarm are under "Is anything failing?".`,
      width: 24,
      height: 2,
    })],
    [heading('## Is it serving?')],
    [
      withMarker('Requests per minute (load balancer)', [appTier.loadBalancer.metrics.requestCount({ label: 'requests' })]),
      withMarker('5xx rate (%)', [appTier.metricTarget5xxRate({ label: 'app 5xx %' }), appTier.metricElb5xxRate({ label: 'load balancer 5xx %' })]),
      graph('Targets', [appTier.metricHealthyHosts({ label: 'healthy (min)' }), appTier.metricUnhealthyHosts({ label: 'unhealthy (max)' })]),
    ],
    [heading('## Is it slower?')],
    [
      withMarker('App p99 latency (ms) and its usual band', [
        appP99,
        new cloudwatch.MathExpression({ expression: `ANOMALY_DETECTION_BAND(p99, ${props.latencyAnomalyBandWidth})`, usingMetrics: { p99: appP99 }, label: 'usual band', period: Duration.minutes(5) }),
      ], 12),
      withMarker('Load balancer p99 response time (s)', [appTier.metricTargetResponseTimeP99({ label: 'target p99 (s)' })], 12),
    ],
    [heading('## Are jobs and events flowing?')],
    [
      withMarker('Jobs per minute', jobs),
      withMarker('Stream records per minute', records),
      graph('Waiting', [
        workQueue.metricOldestMessageAge({ label: 'oldest queued job (s)' }),
        eventStream.metricIteratorAge({ label: 'stream consumers behind (ms)' }),
      ]),
    ],
    [heading('## Is anything failing?')],
    [new cloudwatch.AlarmStatusWidget({
      title: 'Release gate and every alarm',
      // A getter: the widget reads its list when the dashboard is rendered, after every alarm exists.
      get alarms() {
        return [alarmList.gate, ...alarmList.alarms];
      },
      width: 24,
      height: 6,
    })],
    [
      withMarker('Failure rates (%)', failureRates),
      graph('Waiting for a person', [
        workQueue.metricDeadLetterDepth({ label: 'dead-letter queue' }),
        eventStream.metricFailureQueueDepth({ label: 'stream failure queue' }),
      ]),
      ...(lambdas.length > 0 ? [graph('Lambda consumers: errors and throttles', lambdas.flatMap(([name, fn]) => [
        fn.metricErrors({ statistic: 'Sum', label: `${name}: errors` }),
        fn.metricThrottles({ statistic: 'Sum', label: `${name}: throttles` }),
      ]))] : []),
    ],
    [heading('## Every alarm against its threshold')],
    props.alarms.map((alarm) => new cloudwatch.AlarmWidget({ alarm, title: alarm.node.id, width: 8, height: 6 })),
  ];
}
