import { Duration } from 'aws-cdk-lib';
import type { MonitoringSettings } from './monitoring.ts';

/**
 * The default alarm thresholds, read by the construct. Each says why that number; `minHealthyHosts`
 * follows the app tier's minimum capacity instead (see MonitoringSettings).
 */
export const MONITORING_DEFAULTS: Readonly<Required<Omit<MonitoringSettings, 'minHealthyHosts' | 'alarmEmail'>>> = {
  // The ALB answers 5xx itself only when no target could (none healthy, or each timed out or reset
  // the connection), so even 1 % of requests is an outage for someone.
  elb5xxRateThreshold: 1,
  // A healthy app's background of 5xx (a dependency's timeout, a request cut off at shutdown) stays
  // well below 2 %. During a release the new version serves about 1/N of the traffic (N ≥ 2
  // targets), so 2 % overall catches a version that fails 4 % of its requests on two targets, 8 % on four.
  target5xxRateThreshold: 2,
  // Far beyond what a healthy request takes (tens to hundreds of milliseconds) and far below the
  // ALB's 60-second idle timeout: a p99 this slow means requests wait on something (a dependency,
  // a lock, a starved event loop) and users are already retrying.
  responseTimeP99Threshold: Duration.seconds(2),
  // A running worker takes a message within a long poll (≤ 20 s). The normal waits are shorter than
  // five minutes even together: a crashed attempt's message waits out the 60-second visibility
  // timeout, and a release stops each worker for at most its 60-second stop timeout. Older work
  // means nobody takes it: workers stopped, failing or too few.
  queueMessageAgeThreshold: Duration.minutes(5),
  // A consumer that keeps up reads within seconds of a put. A lease failover (10 s) or a consumer
  // restarted by a release (its 60-second stop timeout) leaves it at most about a minute behind;
  // two minutes means it is not catching up, and replay after a failure grows with every minute.
  streamIteratorAgeThreshold: Duration.minutes(2),
  // A healthy handler fails now and then (a dependency's timeout, retried); one job in twenty failing
  // for minutes is a broken version or a dependency that is down.
  jobFailureRateThreshold: 5,
  // A record in the failure queue waits for a person to replay it, while a failed job retries by
  // itself: one record in a hundred is already a lot of replaying.
  streamFailureRateThreshold: 1,
  // Twice the queue-age threshold: by then every normal wait (a long poll, a redelivery after the
  // visibility timeout, a worker stopped by a release) is over several times.
  jobsStalledAfter: Duration.minutes(10),
  // CloudWatch's usual band is 2 standard deviations; a p99 is noisy, and the fixed
  // responseTimeP99Threshold already catches the outright slow, so this one only speaks up when
  // latency is clearly off its pattern.
  latencyAnomalyBandWidth: 3,
};
