import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { AppTier } from '../app-tier/app-tier.ts';
import type { EventStream } from '../event-stream/event-stream.ts';
import { allowGrantsForAwsServicesOnly } from '../kms/grants-for-aws-services-only.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import type { WorkQueue } from '../work-queue/work-queue.ts';
import { MONITORING_DEFAULTS } from './monitoring-defaults.ts';
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
   * Address subscribed to the alarm topic (it must confirm the subscription).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
}

export interface MonitoringProps extends MonitoringSettings {
  readonly appTier: AppTier;
  readonly workQueue: WorkQueue;
  readonly eventStream: EventStream;
}

/**
 * Every critical signal of the system as an alarm on one encrypted SNS topic, a composite
 * release-gate alarm the rolling release watches, and a dashboard showing each alarm's metric.
 */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** In ALARM when any signal a bad release could cause is in ALARM; releases stop and roll back on it. */
  public readonly releaseGate: cloudwatch.CompositeAlarm;
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    throwIfInvalid('monitoring', validateMonitoringSettings(props));
    const { appTier, workQueue, eventStream } = props;

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

    // --- release gate --------------------------------------------------------------------------
    // The harm a bad release causes to users and to work in flight. Left out on purpose: DLQ and
    // stream failure-queue depth and unhealthy hosts (an old poison message or record, or a broken
    // host, would block the very release that fixes it; the release checks its own targets' health)
    // and throttling (capacity, not code).
    this.releaseGate = new cloudwatch.CompositeAlarm(this, 'ReleaseGate', {
      alarmDescription: 'sluice release gate: a rolling release stops and rolls back while this is in ALARM.',
      alarmRule: cloudwatch.AlarmRule.anyOf(elb5xx, target5xx, latency, healthyHosts, queueAge, iteratorAge),
    });

    // --- dashboard -----------------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [this.releaseGate, ...this.alarms], width: 24 })],
        this.alarms.map((alarm) => new cloudwatch.AlarmWidget({ alarm, title: alarm.node.id, width: 8, height: 6 })),
      ],
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
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }
}
