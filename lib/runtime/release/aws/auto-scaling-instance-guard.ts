import {
  type AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  ResumeProcessesCommand,
  SuspendProcessesCommand,
} from '@aws-sdk/client-auto-scaling';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type Clock, systemClock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import type { InstanceGuard } from '../ports.ts';
import { type AwsCall, callAws, type RetryPolicy } from './aws-call.ts';
import type { FleetReplacement, FleetReplacementCheck } from './fleet-replacement-check.ts';
import { assertReleaseVersion } from '../release-version.ts';

/**
 * The Auto Scaling processes a release suspends: each can terminate or replace a target while it is
 * drained, being installed or not yet healthy again, or change the fleet under the release.
 * Launch, Terminate and AddToLoadBalancer stay active so the group can still restore capacity (new
 * instances install the launch version) and register what it launches.
 *
 * A deploy's rolling update suspends the same five (and InstanceRefresh) and resumes them when it
 * ends. SuspendedProcesses cannot tell whose suspension is whose (both read "User suspended"), so
 * the release resuming its own would resume the update's: hold() refuses while a deploy or an
 * instance refresh runs (FleetReplacementCheck).
 */
export const HELD_PROCESSES = [
  // Would terminate the target the release is installing, once HealthCheck marks it unhealthy.
  'ReplaceUnhealthy',
  // Would terminate a target (possibly the drained one) to even out Availability Zones.
  'AZRebalance',
  // Would mark a target unhealthy from ELB checks while its app restarts or before it is healthy again.
  'HealthCheck',
  // Scaling policies could scale in (terminating any target, the drained one included) or out mid-release.
  'AlarmNotification',
  // Scheduled scaling could do the same at its set time.
  'ScheduledActions',
] as const;

/** The parameter's value before the first release: instances then install nothing. */
const NO_VERSION = 'none';

export interface AutoScalingInstanceGuardProps {
  readonly autoScaling: AutoScalingClient;
  readonly ssm: SSMClient;
  readonly autoScalingGroupName: string;
  /** The SSM parameter instances read at boot (stack output CurrentVersionParameterName). */
  readonly currentVersionParameterName: string;
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
  /** Refuses to hold the group while a deploy or an instance refresh replaces its instances. @default - no check */
  readonly replacementCheck?: FleetReplacementCheck;
}

/** Holds the Auto Scaling group still during a release and points new instances at the release's version. */
export class AutoScalingInstanceGuard implements InstanceGuard {
  private readonly props: AutoScalingInstanceGuardProps;

  constructor(props: AutoScalingInstanceGuardProps) {
    this.props = props;
  }

  /** Throws FleetReplacingError, suspending nothing, while something replaces the group's instances. */
  async hold(signal?: AbortSignal): Promise<void> {
    const { autoScaling, autoScalingGroupName } = this.props;
    // Checked again here, after the lock: a deploy may have started while this release waited for it.
    await this.refuseWhileReplacing(signal);
    await this.call('SuspendProcesses', `Auto Scaling group ${autoScalingGroupName}`, signal, (abortSignal) =>
      autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: autoScalingGroupName, ScalingProcesses: [...HELD_PROCESSES] }), { abortSignal }),
    );
  }

  async release(signal?: AbortSignal): Promise<void> {
    const { autoScaling, autoScalingGroupName } = this.props;
    await this.call('ResumeProcesses', `Auto Scaling group ${autoScalingGroupName}`, signal, (abortSignal) =>
      autoScaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: autoScalingGroupName, ScalingProcesses: [...HELD_PROCESSES] }), { abortSignal }),
    );
  }

  /** What replaces the group's instances now, if anything (undefined without a replacementCheck). */
  async replacement(signal?: AbortSignal): Promise<FleetReplacement | undefined> {
    return this.props.replacementCheck?.replacement(signal);
  }

  /** Throws FleetReplacingError while a deploy or an instance refresh replaces the group's instances. */
  async refuseWhileReplacing(signal?: AbortSignal): Promise<void> {
    await this.props.replacementCheck?.refuseWhileReplacing(signal);
  }

  /** Undefined before the first release (the parameter holds `none`). */
  async launchVersion(signal?: AbortSignal): Promise<string | undefined> {
    const { ssm, currentVersionParameterName: name } = this.props;
    const notFound = (error: unknown) => error instanceof Error && error.name === 'ParameterNotFound';
    try {
      const response = await this.call(
        'GetParameter',
        `parameter ${name}`,
        signal,
        (abortSignal) => ssm.send(new GetParameterCommand({ Name: name }), { abortSignal }),
        notFound,
      );
      const value = response.Parameter?.Value;
      return value === undefined || value === NO_VERSION ? undefined : value;
    } catch (error) {
      if (!notFound(error)) throw error;
      throw new BadInputError(`parameter ${name} not found; check the stack output CurrentVersionParameterName and the AWS region`);
    }
  }

  async setLaunchVersion(version: string, signal?: AbortSignal): Promise<void> {
    assertReleaseVersion(version);
    const { ssm, currentVersionParameterName: name } = this.props;
    await this.call('PutParameter', `parameter ${name}`, signal, (abortSignal) =>
      ssm.send(new PutParameterCommand({ Name: name, Value: version, Type: 'String', Overwrite: true }), { abortSignal }),
    );
  }

  /**
   * True when the group is terminating the instance or no longer has it: a group removes an instance
   * once it is terminated, so one it does not know will not come back.
   */
  async isTerminated(targetId: string, signal?: AbortSignal): Promise<boolean> {
    const { autoScaling } = this.props;
    const response = await this.call('DescribeAutoScalingInstances', `instance ${targetId}`, signal, (abortSignal) =>
      autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [targetId] }), { abortSignal }),
    );
    const instance = response.AutoScalingInstances?.find((entry) => entry.InstanceId === targetId);
    return instance === undefined || (instance.LifecycleState ?? '').includes('Terminat');
  }

  private call<T>(
    operation: string,
    subject: string,
    signal: AbortSignal | undefined,
    send: (signal?: AbortSignal) => Promise<T>,
    expected?: AwsCall['expected'],
  ): Promise<T> {
    const hint = 'check the stack outputs AutoScalingGroupName and CurrentVersionParameterName and the AWS region, then rerun';
    return callAws({ clock: this.props.clock ?? systemClock, operation, subject, hint, signal, retry: this.props.retry, expected }, send);
  }
}
