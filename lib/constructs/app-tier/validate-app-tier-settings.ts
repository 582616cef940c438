import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { SettingsProblems } from '../settings-validation.ts';
import { APP_TIER_DEFAULTS } from './app-tier-defaults.ts';
import type { AppTierSettings } from './app-tier.ts';

/** Every problem with the app tier's settings, each naming the setting, the allowed range and the value. */
export function validateAppTierSettings(settings: AppTierSettings): string[] {
  const check = new SettingsProblems();
  check.addAll(instanceTypesProblems(settings.instanceTypes));
  check.matches('amiId', settings.amiId, /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'an AMI id: "ami-" and 8 or 17 lower-case hex digits');

  // Two instances in two AZs is the least that survives losing one during a release or an AZ outage.
  check.wholeNumber('minCapacity', settings.minCapacity, 2, 100);
  check.wholeNumber('maxCapacity', settings.maxCapacity, 2, 100);
  check.wholeNumber('desiredCapacity', settings.desiredCapacity, 2, 100);
  const minCapacity = settings.minCapacity ?? APP_TIER_DEFAULTS.minCapacity;
  const maxCapacity = settings.maxCapacity ?? APP_TIER_DEFAULTS.maxCapacity;
  const { desiredCapacity } = settings;
  // CloudFormation requires the rolling update's MinInstancesInService (minCapacity) below MaxSize: a
  // group at its minimum must launch a replacement before it may terminate an instance.
  if (maxCapacity <= minCapacity) {
    check.add(`maxCapacity must be more than minCapacity (${minCapacity}), so a rolling update can launch a replacement before it terminates an instance (given ${maxCapacity})`);
  }
  if (desiredCapacity !== undefined && (desiredCapacity < minCapacity || desiredCapacity > maxCapacity)) {
    check.add(`desiredCapacity must be between minCapacity (${minCapacity}) and maxCapacity (${maxCapacity}) (given ${desiredCapacity})`);
  }

  // The services run as an unprivileged user, which cannot bind ports below 1024.
  check.wholeNumber('appPort', settings.appPort, 1024, 65535);
  check.matches('healthCheckPath', settings.healthCheckPath, /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,1023}$/, 'a URL path starting with "/" (at most 1024 characters)');

  // Ranges are the ELBv2 target group limits.
  check.secondsInRange('healthCheckInterval', settings.healthCheckInterval, 5, 300);
  check.secondsInRange('healthCheckTimeout', settings.healthCheckTimeout, 2, 120);
  const interval = settings.healthCheckInterval ?? APP_TIER_DEFAULTS.healthCheckInterval;
  const timeout = settings.healthCheckTimeout ?? APP_TIER_DEFAULTS.healthCheckTimeout;
  if (!interval.isUnresolved() && !timeout.isUnresolved() && timeout.toSeconds({ integral: false }) >= interval.toSeconds({ integral: false })) {
    check.add(`healthCheckTimeout must be less than healthCheckInterval (${interval.toSeconds({ integral: false })} seconds) (given ${timeout.toSeconds({ integral: false })})`);
  }
  check.wholeNumber('healthyThreshold', settings.healthyThreshold, 2, 10);
  check.wholeNumber('unhealthyThreshold', settings.unhealthyThreshold, 2, 10);
  check.secondsInRange('deregistrationDelay', settings.deregistrationDelay, 0, 3600);

  check.secondsInRange('healthCheckGracePeriod', settings.healthCheckGracePeriod, 0, 7200);
  check.secondsInRange('workerStopTimeout', settings.workerStopTimeout, 1, 3600);
  check.secondsInRange('installHealthTimeout', settings.installHealthTimeout, 5, 900);
  // The rolling update's PauseTime, which waits for the signal, is at most one hour.
  check.secondsInRange('instanceReadyTimeout', settings.instanceReadyTimeout, 60, 3600);
  const readyTimeout = settings.instanceReadyTimeout ?? APP_TIER_DEFAULTS.instanceReadyTimeout;
  const installTimeout = settings.installHealthTimeout ?? APP_TIER_DEFAULTS.installHealthTimeout;
  const healthyThreshold = settings.healthyThreshold ?? APP_TIER_DEFAULTS.healthyThreshold;
  if (![readyTimeout, installTimeout, interval].some((duration) => duration.isUnresolved()) && !Token.isUnresolved(healthyThreshold)) {
    // Before it signals, a new instance waits for its own health check and then the load balancer's.
    const waitsSeconds = installTimeout.toSeconds({ integral: false }) + healthyThreshold * interval.toSeconds({ integral: false });
    if (readyTimeout.toSeconds({ integral: false }) <= waitsSeconds) {
      check.add(`instanceReadyTimeout must be longer than installHealthTimeout plus healthyThreshold × healthCheckInterval (${waitsSeconds} seconds), the waits a new instance makes before it signals (given ${readyTimeout.toSeconds({ integral: false })})`);
    }
  }
  check.wholeNumber('natGateways', settings.natGateways, 1, 2);
  check.matches(
    'certificateArn',
    settings.certificateArn,
    /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
    'an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/…',
  );
  return [...check.list];
}

/** At most this many instance types in a mixed instances policy (an Auto Scaling limit). */
const MAX_INSTANCE_TYPES = 40;
const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

function instanceTypesProblems(instanceTypes: readonly string[] | undefined): string[] {
  if (instanceTypes === undefined) return [];
  const given = `(given ${JSON.stringify(instanceTypes)})`;
  if (!Array.isArray(instanceTypes)) return [`instanceTypes must be a list of EC2 instance types such as ["t3.small", "t3a.small"] ${given}`];
  const problems: string[] = [];
  // AWS Control Tower CT.AUTOSCALING.PR.6: with one type, a shortage of it in an AZ stops the group launching.
  if (instanceTypes.length < 2 || instanceTypes.length > MAX_INSTANCE_TYPES) {
    problems.push(`instanceTypes must list between 2 and ${MAX_INSTANCE_TYPES} EC2 instance types of the same size, so that the group still launches when one type is short in an AZ, e.g. ["t3.small", "t3a.small"] ${given}`);
  }
  const malformed = instanceTypes.filter((type) => typeof type !== 'string' || !INSTANCE_TYPE_PATTERN.test(type));
  if (malformed.length > 0) {
    problems.push(`instanceTypes must be EC2 instance types such as t3.small (not ${malformed.map((type) => JSON.stringify(type)).join(', ')})`);
  }
  const duplicates = instanceTypes.filter((type, index) => instanceTypes.indexOf(type) !== index);
  if (duplicates.length > 0) problems.push(`instanceTypes must not repeat a type (${[...new Set(duplicates)].join(', ')} appears more than once)`);
  if (malformed.length === 0) {
    // One AMI serves the group: x86_64 and arm64 types cannot be mixed.
    const architectures = new Set(instanceTypes.map((type) => new ec2.InstanceType(type).architecture));
    if (architectures.size > 1) problems.push(`instanceTypes must all have one architecture, since one AMI serves the group: Graviton (arm64) and x86_64 types cannot be mixed ${given}`);
  }
  return problems;
}
