import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Clock } from '../../clock.ts';
import { isTransientAwsError } from '../../transient-aws-error.ts';
import { pollUntil } from '../poll-cadence.ts';
import { DeadlineExceededError, TargetUnhealthyError } from '../errors.ts';
import type { PoolTimings, TargetHealthState, TargetPool, TargetStatus } from '../ports.ts';
import { type AwsCall, AwsCallError, callAws, type RetryPolicy } from './aws-call.ts';

export interface Elbv2TargetPoolProps {
  readonly client: ElasticLoadBalancingV2Client;
  readonly targetGroupArn: string;
  readonly clock: Clock;
  /**
   * How often waitDrained and waitHealthy ask for the target's health. DescribeTargetHealth allows
   * far more than one call a second, and each second saved here is saved per target.
   * @default 1000 milliseconds
   */
  readonly pollIntervalMs?: number;
  /**
   * Added to the deregistration delay for waitDrained's deadline: the target leaves the group
   * asynchronously once the delay ends, and DescribeTargetHealth may report it a little later.
   * @default 15 seconds
   */
  readonly drainMarginMs?: number;
  /**
   * Added to the health checks' own time (the longer of healthy and unhealthy threshold × interval,
   * so a failing target is reported unhealthy rather than late) for waitHealthy's deadline.
   * @default - the larger of 30 seconds and healthy threshold × interval
   */
  readonly healthyMarginMs?: number;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

/**
 * A target that is not yet (or no longer) listed after register is tolerated this long: the load
 * balancer's view is eventually consistent. Past it, someone else took the target out.
 */
const REGISTRATION_GRACE_MS = 10_000;

/** The ALB target group behind the release: polls DescribeTargetHealth itself, on the injected clock. */
export class Elbv2TargetPool implements TargetPool {
  protected readonly client: ElasticLoadBalancingV2Client;
  protected readonly targetGroupArn: string;
  protected readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly drainMarginMs: number;
  private readonly healthyMarginMs?: number;
  private readonly retry?: RetryPolicy;
  private timingsRead?: Promise<PoolTimings>;

  constructor(props: Elbv2TargetPoolProps) {
    this.client = props.client;
    this.targetGroupArn = props.targetGroupArn;
    this.clock = props.clock;
    this.pollIntervalMs = props.pollIntervalMs ?? 1000;
    this.drainMarginMs = props.drainMarginMs ?? 15_000;
    this.healthyMarginMs = props.healthyMarginMs;
    this.retry = props.retry;
  }

  async listTargets(signal?: AbortSignal): Promise<TargetStatus[]> {
    const response = await this.call('DescribeTargetHealth', 'every target', signal, (abortSignal) =>
      this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: this.targetGroupArn }), { abortSignal }),
    );
    return (response.TargetHealthDescriptions ?? []).map(toTargetStatus).filter((status) => status.id !== '');
  }

  timings(signal?: AbortSignal): Promise<PoolTimings> {
    // Cached: they change only with a deploy. A failed read is not cached, so the next call reads again.
    this.timingsRead ??= this.readTimings(signal).catch((error: unknown) => {
      this.timingsRead = undefined;
      throw error;
    });
    return this.timingsRead;
  }

  async deregister(targetId: string, signal?: AbortSignal): Promise<void> {
    // Deregistering a target that is already draining or gone succeeds, so a resumed release may repeat it.
    await this.call('DeregisterTargets', `target ${targetId}`, signal, (abortSignal) =>
      this.client.send(new DeregisterTargetsCommand({ TargetGroupArn: this.targetGroupArn, Targets: [{ Id: targetId }] }), { abortSignal }),
    );
  }

  async register(targetId: string, signal?: AbortSignal): Promise<void> {
    await this.call('RegisterTargets', `target ${targetId}`, signal, (abortSignal) =>
      this.client.send(new RegisterTargetsCommand({ TargetGroupArn: this.targetGroupArn, Targets: [{ Id: targetId }] }), { abortSignal }),
    );
  }

  async waitDrained(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadlineMs = await this.drainDeadlineMs(signal);
    await this.poll(targetId, 'draining', deadlineMs, signal, (status) => status.state === 'unused');
  }

  async waitHealthy(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadlineMs = await this.healthyDeadlineMs(signal);
    const startedAt = this.clock.now();
    await this.poll(targetId, 'becoming healthy', deadlineMs, signal, (status) => {
      if (status.state === 'healthy') return true;
      throwIfCannotBecomeHealthy(status, this.clock.now() - startedAt);
      return false;
    });
  }

  /** Deregistration delay + margin. */
  protected async drainDeadlineMs(signal?: AbortSignal): Promise<number> {
    const { drainMs } = await this.timings(signal);
    return drainMs + this.drainMarginMs;
  }

  /**
   * The health checks' time + margin. The margin covers registration reaching every load balancer
   * node before the first check counts; at AWS defaults (5 × 30 s) it doubles the wait so one slow
   * check does not fail a release.
   */
  protected async healthyDeadlineMs(signal?: AbortSignal): Promise<number> {
    const { healthyMs, unhealthyMs } = await this.timings(signal);
    return Math.max(healthyMs, unhealthyMs) + (this.healthyMarginMs ?? Math.max(30_000, healthyMs));
  }

  /** The health of one target (`unused`/`Target.NotRegistered` when the group does not know it). */
  protected async targetHealth(targetId: string, signal?: AbortSignal): Promise<TargetStatus> {
    const response = await this.call('DescribeTargetHealth', `target ${targetId}`, signal, (abortSignal) =>
      this.client.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: this.targetGroupArn, Targets: [{ Id: targetId }] }),
        { abortSignal },
      ),
    );
    const description = (response.TargetHealthDescriptions ?? []).find((entry) => entry.Target?.Id === targetId);
    return description ? toTargetStatus(description) : { id: targetId, state: 'unused', reasonCode: 'Target.NotRegistered' };
  }

  private async poll(
    targetId: string,
    step: string,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    done: (status: TargetStatus) => boolean,
  ): Promise<void> {
    await pollUntil({
      clock: this.clock,
      intervalMs: this.pollIntervalMs,
      deadlineMs,
      signal,
      read: (abortSignal) => this.targetHealth(targetId, abortSignal),
      done,
      onDeadline: (status) => new DeadlineExceededError(targetId, step, deadlineMs, describeState(status)),
      // Throttled through every retry: the target's state is unknown, not bad; the deadline decides.
      retryable: (error) => error instanceof AwsCallError && isTransientAwsError(error.cause),
    });
  }

  private async readTimings(signal?: AbortSignal): Promise<PoolTimings> {
    const subject = 'the target group';
    const [groups, attributes] = await Promise.all([
      this.call('DescribeTargetGroups', subject, signal, (abortSignal) =>
        this.client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [this.targetGroupArn] }), { abortSignal }),
      ),
      this.call('DescribeTargetGroupAttributes', subject, signal, (abortSignal) =>
        this.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: this.targetGroupArn }), { abortSignal }),
      ),
    ]);
    const group = groups.TargetGroups?.[0];
    // AWS defaults apply where the group does not say (interval 30 s, thresholds 5 and 2, delay 300 s).
    const intervalMs = (group?.HealthCheckIntervalSeconds ?? 30) * 1000;
    const delay = attributes.Attributes?.find((attribute) => attribute.Key === 'deregistration_delay.timeout_seconds')?.Value;
    return {
      drainMs: Number(delay ?? 300) * 1000,
      healthyMs: (group?.HealthyThresholdCount ?? 5) * intervalMs,
      unhealthyMs: (group?.UnhealthyThresholdCount ?? 2) * intervalMs,
    };
  }

  private call<T>(operation: string, what: string, signal: AbortSignal | undefined, send: (signal?: AbortSignal) => Promise<T>): Promise<T> {
    const call: AwsCall = {
      clock: this.clock,
      operation,
      subject: `${what} in ${this.targetGroupArn}`,
      hint: 'check the target group ARN (stack output TargetGroupArn) and the AWS region, then rerun',
      signal,
      retry: this.retry,
    };
    return callAws(call, send);
  }
}

export function toTargetStatus(description: TargetHealthDescription): TargetStatus {
  const health = description.TargetHealth;
  return {
    id: description.Target?.Id ?? '',
    // `unhealthy.draining` (unhealthy while its connections drain) is unhealthy as far as a release is concerned.
    state: (health?.State === 'unhealthy.draining' ? 'unhealthy' : (health?.State ?? 'unavailable')) as TargetHealthState,
    ...(health?.Reason ? { reasonCode: health.Reason } : {}),
    ...(health?.Description ? { description: health.Description } : {}),
  };
}

export function describeState(status: TargetStatus): string {
  return status.reasonCode ? `${status.state} (${status.reasonCode})` : status.state;
}

/** Throws when the target's state rules out becoming healthy without someone acting on it. */
function throwIfCannotBecomeHealthy(status: TargetStatus, waitedMs: number): void {
  switch (status.state) {
    case 'unhealthy':
      throw new TargetUnhealthyError(status.id, status.reasonCode ?? 'Target.FailedHealthChecks', status.description);
    case 'unavailable':
      throw new TargetUnhealthyError(status.id, status.reasonCode ?? 'Target.HealthCheckDisabled', 'the target group does not health-check its targets');
    case 'unused':
    case 'draining':
      // A stopped or terminated instance will not come back by waiting.
      if (status.reasonCode === 'Target.InvalidState') {
        throw new TargetUnhealthyError(status.id, status.reasonCode, status.description ?? 'the instance is stopped or terminated');
      }
      if (waitedMs >= REGISTRATION_GRACE_MS) {
        throw new TargetUnhealthyError(
          status.id,
          status.reasonCode ?? 'Target.NotRegistered',
          `${describeState(status)}: something took it out of the target group while the release waited for it`,
        );
      }
      return;
    default:
      return;
  }
}
