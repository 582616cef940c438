import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { AppTier } from '../app-tier/app-tier.ts';
import type { EventStream } from '../event-stream/event-stream.ts';
import { allowGrantsForAwsServicesOnly } from '../kms/grants-for-aws-services-only.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import type { WorkQueue } from '../work-queue/work-queue.ts';
import { METRIC_NAMESPACE, MetricDimension, MetricName } from '../../runtime/metric-contract.ts';
import { MONITORING_DEFAULTS } from './monitoring-defaults.ts';
import { releaseDashboard } from './release-dashboard.ts';
import { SluiceMetrics } from './sluice-metrics.ts';
import { validateMonitoringSettings } from './validate-monitoring-settings.ts';

/** Alarm thresholds and where alarms go. */
export interface MonitoringSettings {
  /**
   * Percentage of requests the load balancer itself fails with 5xx before the alarm fires.
   * @default 1 — the ALB only answers 5xx itself when no target could, so even 1 % is an outage for someone
   */
  readonly elb5xxRateThreshold?: number;
  /**
   * Percentage of requests the app answers with 5xx before the alarm fires.
   * @default 2 — above a healthy app's background, low enough to catch a new version serving 1/N of the traffic
   */
  readonly target5xxRateThreshold?: number;
  /**
   * 99th-percentile target response time above which the alarm fires.
   * @default 2 seconds — far beyond a healthy request, so requests are waiting on something
   */
  readonly responseTimeP99Threshold?: Duration;
  /**
   * Healthy targets below which the alarm fires.
   * @default - one less than the group's minimum capacity (at least 1): a rolling release takes one
   * target out by design, anything beyond that is lost capacity
   */
  readonly minHealthyHosts?: number;
  /**
   * Age of the oldest waiting work-queue message above which the alarm fires.
   * @default 5 minutes — longer than a redelivery (visibility timeout) and a worker's stop during a release together
   */
  readonly queueMessageAgeThreshold?: Duration;
  /**
   * How far stream consumers may fall behind before the alarm fires.
   * @default 2 minutes — longer than a lease failover or a consumer's restart during a release
   */
  readonly streamIteratorAgeThreshold?: Duration;
  /**
   * Percentage of job attempts whose handler failed (JobsFailed / (JobsProcessed + JobsFailed)) above
   * which the worker's (and the Lambda consumer's) failure-rate alarm fires.
   * @default 5 — far above a healthy handler's occasional transient failure, low enough to catch a
   * version or a dependency that fails one job in twenty
   */
  readonly jobFailureRateThreshold?: number;
  /**
   * Percentage of stream records sent to the failure queue (StreamRecordsFailed / (processed +
   * failed)) above which the stream failure-rate alarm fires.
   * @default 1 — every such record waits for a person to replay it, so the bar is lower than for jobs,
   * which retry by themselves
   */
  readonly streamFailureRateThreshold?: number;
  /**
   * Window in which jobs accepted by the web app and none processed fires the business alarm
   * (whole minutes).
   * @default 10 minutes — twice the queue-age threshold: by then every normal wait (a long poll, a
   * redelivery, a worker stopped by a release) is over several times
   */
  readonly jobsStalledAfter?: Duration;
  /**
   * Width of the p99-latency anomaly band, in standard deviations of the learned model.
   * @default 3 — wider than CloudWatch's usual 2: a 1-minute p99 is noisy, and the fixed
   * responseTimeP99Threshold already catches the outright slow
   */
  readonly latencyAnomalyBandWidth?: number;
  /**
   * Address subscribed to the alarm topic (it must confirm the subscription).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
}

export interface MonitoringProps extends MonitoringSettings {
  /** The stage: the Stage dimension of the metrics sluice publishes itself, and the dashboard's title. */
  readonly stageName: string;
  readonly appTier: AppTier;
  readonly workQueue: WorkQueue;
  readonly eventStream: EventStream;
}

/**
 * Every critical signal of the system as an alarm on one encrypted SNS topic, a composite
 * release-gate alarm the rolling release watches, and a dashboard that shows each release against
 * its effect (see releaseDashboard).
 */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  /** Every alarm on the topic; the dashboard's alarm status shows each, including those added later with addAlarm. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** In ALARM when any signal a bad release could cause is in ALARM; releases stop and roll back on it. */
  public readonly releaseGate: cloudwatch.CompositeAlarm;
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    throwIfInvalid('monitoring', validateMonitoringSettings(props));
    const { appTier, workQueue, eventStream } = props;
    const metrics = new SluiceMetrics(props.stageName);
    const queueLambda = workQueue.consumerFunction;
    const streamLambda = eventStream.consumerFunction;

    // --- alarm topic ---------------------------------------------------------------------------
    // A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed
    // aws/sns key, whose policy cannot be changed to let it in.
    const topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'sluice alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    allowGrantsForAwsServicesOnly(topicKey);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: topicKey, enforceSSL: true });
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    // --- load balancer and app -----------------------------------------------------------------
    // Why each default threshold: MONITORING_DEFAULTS.
    // Two of three minutes: a release is judged within ~3 minutes, and one bad minute is not a trend.
    const elb5xx = this.alarm('Elb5xxRate', appTier.metricElb5xxRate(), {
      threshold: props.elb5xxRateThreshold ?? MONITORING_DEFAULTS.elb5xxRateThreshold,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description: 'The load balancer answers 5xx itself: no healthy target, or targets time out or reset.',
    });
    const target5xx = this.alarm('Target5xxRate', appTier.metricTarget5xxRate(), {
      threshold: props.target5xxRateThreshold ?? MONITORING_DEFAULTS.target5xxRateThreshold,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      description: 'The app answers 5xx to more requests than it should.',
    });
    // p99 is noisy at low traffic: three of five minutes.
    const latency = this.alarm('ResponseTimeP99', appTier.metricTargetResponseTimeP99(), {
      threshold: (props.responseTimeP99Threshold ?? MONITORING_DEFAULTS.responseTimeP99Threshold).toSeconds({ integral: false }),
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      description: 'The slowest 1 % of requests take longer than the threshold.',
    });
    // Above 0: any target failing its checks for two minutes is a broken instance the group will replace.
    this.alarm('UnhealthyHosts', appTier.metricUnhealthyHosts(), {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      description: 'At least one target fails its health checks.',
    });
    // One below the minimum capacity (at least 1): a rolling release takes one target out by design.
    const minHealthyHosts = props.minHealthyHosts ?? Math.max(1, appTier.minCapacity - 1);
    const healthyHosts = this.alarm('HealthyHosts', appTier.metricHealthyHosts(), {
      threshold: minHealthyHosts,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      // No data points means the load balancer sees no targets at all.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `Fewer than ${minHealthyHosts} healthy targets: capacity is below what the service needs.`,
    });

    // --- work queue ----------------------------------------------------------------------------
    // Three minutes in a row: waiting work only ages while nobody takes it; one old minute can be a
    // single slow batch.
    const queueAge = this.alarm('QueueMessageAge', workQueue.metricOldestMessageAge(), {
      threshold: (props.queueMessageAgeThreshold ?? MONITORING_DEFAULTS.queueMessageAgeThreshold).toSeconds(),
      evaluationPeriods: 3,
      description: 'Work waits in the queue: the workers are stopped, failing or too few.',
    });
    // Above 0: a single message in the DLQ is work that will not happen until a person looks at it.
    this.alarm('DeadLetterMessages', workQueue.metricDeadLetterDepth(), {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      description: 'Messages failed maxReceiveCount times and are in the dead-letter queue.',
    });

    // --- event stream --------------------------------------------------------------------------
    // Three minutes in a row: a consumer that restarts or takes over a lease catches up within about a
    // minute, so only a lag that lasts is a stuck consumer.
    const iteratorAge = this.alarm('StreamIteratorAge', eventStream.metricIteratorAge(), {
      threshold: (props.streamIteratorAgeThreshold ?? MONITORING_DEFAULTS.streamIteratorAgeThreshold).toMilliseconds(),
      evaluationPeriods: 3,
      description: 'Stream consumers fall behind the newest records.',
    });
    // Above 0 — the SDK retries a throttled write, but three minutes in a row means producers are losing throughput.
    this.alarm('StreamWriteThrottles', eventStream.metricWriteThrottles(), {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      description: 'Producers are throttled by the stream.',
    });
    // Above 0, like the DLQ: a single record in the failure queue is an event the app has not handled
    // and will not, until a person looks at it and replays it.
    this.alarm('StreamFailedRecords', eventStream.metricFailureQueueDepth(), {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      description: 'Stream records failed their bounded retries and wait in the stream failure queue.',
    });
    // Above 0: throttled checkpoints mean more replay after a failover; throttled lease renewals mean lease churn.
    this.alarm('CheckpointThrottles', eventStream.metricCheckpointThrottles(), {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      description: 'Lease and checkpoint requests on the checkpoint table are throttled.',
    });

    // --- worker and Lambda consumers ---------------------------------------------------------------
    // Failure rates from the services' own metrics (JobsFailed counts each failed attempt, retried or
    // not). Three of five minutes: one bad minute at low traffic (one job, one failure: 100 %) is
    // not a trend. The instance worker's alarms exist whoever consumes: without traffic they stay OK.
    const jobFailureRateThreshold = props.jobFailureRateThreshold ?? MONITORING_DEFAULTS.jobFailureRateThreshold;
    const workerJobFailures = this.alarm('WorkerJobFailureRate', metrics.failureRate('worker', 'jobsFailed', 'jobsProcessed', 'worker job failures %'), {
      threshold: jobFailureRateThreshold,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      description: `The instance worker's handler fails more than ${jobFailureRateThreshold} % of its jobs.`,
    });
    const streamFailureRateThreshold = props.streamFailureRateThreshold ?? MONITORING_DEFAULTS.streamFailureRateThreshold;
    const workerStreamFailures = this.alarm('WorkerStreamFailureRate', metrics.failureRate('worker', 'streamRecordsFailed', 'streamRecordsProcessed', 'worker stream records failed %'), {
      threshold: streamFailureRateThreshold,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      description: `The instance worker sends more than ${streamFailureRateThreshold} % of the stream records it reads to the failure queue.`,
    });
    if (queueLambda) {
      this.alarm('QueueLambdaJobFailureRate', metrics.failureRate('queue-lambda', 'jobsFailed', 'jobsProcessed', 'Lambda job failures %'), {
        threshold: jobFailureRateThreshold,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        description: `The work-queue Lambda consumer's handler fails more than ${jobFailureRateThreshold} % of its jobs.`,
      });
      this.lambdaAlarms('QueueConsumer', 'work-queue', queueLambda);
    }
    if (streamLambda) {
      this.alarm('StreamLambdaFailureRate', metrics.failureRate('stream-lambda', 'streamRecordsFailed', 'streamRecordsProcessed', 'Lambda stream records failed %'), {
        threshold: streamFailureRateThreshold,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        description: `The event-stream Lambda consumer sends more than ${streamFailureRateThreshold} % of its records to the failure queue.`,
      });
      this.lambdaAlarms('StreamConsumer', 'event-stream', streamLambda);
    }

    // --- business: accepted work that nobody finishes ----------------------------------------------
    // One window of jobsStalledAfter: jobs were accepted in it and not one succeeded, whoever
    // consumes. It fires on stopped workers and on a handler that fails everything (failures are not
    // processed) alike. A window with no data at all (no traffic) is missing, and missing is OK.
    const stalledWindow = props.jobsStalledAfter ?? MONITORING_DEFAULTS.jobsStalledAfter;
    const processed: Record<string, cloudwatch.IMetric> = { worker: metrics.metric('worker', 'jobsProcessed', { period: stalledWindow }) };
    if (queueLambda) processed.lambda = metrics.metric('queue-lambda', 'jobsProcessed', { period: stalledWindow });
    this.alarm('JobsStalled', new cloudwatch.MathExpression({
      expression: `IF(FILL(accepted, 0) > 0 AND ${Object.keys(processed).map((id) => `FILL(${id}, 0)`).join(' + ')} == 0, 1, 0)`,
      usingMetrics: { accepted: metrics.metric('web', 'jobsAccepted', { period: stalledWindow }), ...processed },
      label: 'jobs accepted, none processed',
      period: stalledWindow,
    }), {
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      description: `Jobs were accepted in the last ${stalledWindow.toMinutes()} minutes and none was processed: work is piling up.`,
    });

    // --- p99 latency against its usual band -----------------------------------------------------------
    // "Slower than usual for this hour", where the fixed threshold (seconds) is far away. The model
    // is declared, so it starts learning with the stack rather than with the first alarm evaluation;
    // it needs days of traffic before its band means much. 5-minute p99, two of three: a 1-minute
    // p99 at low traffic is a handful of requests.
    const latencyModel = new cloudwatch.CfnAnomalyDetector(this, 'LatencyP99Model', {
      singleMetricAnomalyDetector: {
        namespace: METRIC_NAMESPACE,
        metricName: MetricName.latency,
        dimensions: [{ name: MetricDimension.stage, value: props.stageName }, { name: MetricDimension.service, value: 'web' }],
        stat: 'p99',
      },
    });
    const bandWidth = props.latencyAnomalyBandWidth ?? MONITORING_DEFAULTS.latencyAnomalyBandWidth;
    const latencyAnomaly = new cloudwatch.AnomalyDetectionAlarm(this, 'LatencyP99Anomaly', {
      metric: metrics.latencyP99({ period: Duration.minutes(5) }),
      stdDevs: bandWidth,
      // Only slower matters; faster than usual is no incident.
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `The web app's p99 latency is above its usual band for this time (${bandWidth} standard deviations).`,
    });
    latencyAnomaly.node.addDependency(latencyModel);
    this.addAlarm(latencyAnomaly);

    // --- release gate --------------------------------------------------------------------------
    // The harm a bad release causes to users and to work in flight, each alarm judged within a few
    // minutes, the time a release bakes. In: 5xx, latency, lost capacity, queue and stream lag, and
    // the instance worker's job and stream failure rates (fresh failures are the new version's; the
    // worker is what a release replaces). Left out on purpose:
    // - DLQ and failure-queue depth and unhealthy hosts: an old poison message or record, or one broken
    //   host, would block the very release that fixes it (the release checks its own targets' health);
    // - throttling: capacity, not code;
    // - the Lambda consumers' alarms: `cdk deploy` changes Lambda code, not `sluice release`, so rolling
    //   the instances back would not help;
    // - jobs stalled: a 10-minute window is slower than a release's bake, and the queue-age alarm in the
    //   gate already sees work waiting;
    // - the latency anomaly: its band is learned over days and moves with every release; a model that
    //   is still learning, or a band that is merely narrow at night, must not roll a good release back.
    //   The fixed p99 threshold is in the gate instead.
    this.releaseGate = new cloudwatch.CompositeAlarm(this, 'ReleaseGate', {
      alarmDescription: 'sluice release gate: a rolling release stops and rolls back while this is in ALARM.',
      alarmRule: cloudwatch.AlarmRule.anyOf(elb5xx, target5xx, latency, healthyHosts, queueAge, iteratorAge, workerJobFailures, workerStreamFailures),
    });

    // --- dashboard -----------------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: releaseDashboard({
        stageName: props.stageName,
        metrics,
        appTier,
        workQueue,
        eventStream,
        latencyAnomalyBandWidth: bandWidth,
        releaseGate: this.releaseGate,
        // The live list: alarms added later with addAlarm appear too.
        alarms: this.alarms,
      }),
    });
  }

  /**
   * Puts an alarm made elsewhere (a WAF's, a database's) on the topic: it notifies on ALARM and on
   * OK, and the dashboard's alarm status shows it. It does not join the release gate.
   */
  addAlarm(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }

  /**
   * A Lambda consumer's crashes and throttles (AWS/Lambda Errors and Throttles, Sum per minute).
   * Errors count invocations that threw or timed out, not the messages or records the handler
   * reported as failed (those are partial batch responses, covered by the failure rates). Above 0
   * three minutes in a row: one poison record's bisect-and-retry or a cold start's timeout passes
   * within a minute or two, a broken function does not. Throttles the same: Lambda's poller retries
   * a throttled batch, but three minutes of it means the consumer is losing throughput.
   */
  private lambdaAlarms(idPrefix: string, what: string, consumer: lambda.IFunction): void {
    this.alarm(`${idPrefix}Errors`, consumer.metricErrors({ statistic: 'Sum', period: Duration.minutes(1) }), {
      threshold: 0,
      evaluationPeriods: 3,
      description: `Invocations of the ${what} Lambda consumer fail (throw or time out) three minutes in a row.`,
    });
    this.alarm(`${idPrefix}Throttles`, consumer.metricThrottles({ statistic: 'Sum', period: Duration.minutes(1) }), {
      threshold: 0,
      evaluationPeriods: 3,
      description: `The ${what} Lambda consumer is throttled three minutes in a row.`,
    });
  }

  private alarm(id: string, metric: cloudwatch.IMetric, options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'> & { description: string }): cloudwatch.Alarm {
    const { description, ...rest } = options;
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
      ...rest,
    });
    this.addAlarm(alarm);
    return alarm;
  }
}
