import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TargetHealthState } from '../../../lib/runtime/release/ports.ts';
import { awsError } from './aws-errors.ts';
import type { Fleet, HealthCheckAnswer } from './fleet.ts';
import type { SimulationContext } from './simulation-context.ts';
import type { TargetSnapshot } from './simulation-log.ts';

export interface TargetGroupSettings {
  /** @default 5 (the stack's; AWS: 30) */
  readonly healthCheckIntervalSeconds?: number;
  /** @default 4 */
  readonly healthCheckTimeoutSeconds?: number;
  /** @default 2 (the stack's; AWS: 5) */
  readonly healthyThresholdCount?: number;
  /** @default 3 (the stack's; AWS: 2) */
  readonly unhealthyThresholdCount?: number;
  /** @default 30 (the stack's; AWS: 300) */
  readonly deregistrationDelaySeconds?: number;
  /**
   * How long a registration takes to reach the load balancer's nodes before the first health check
   * (`initial`/`Elb.RegistrationInProgress` meanwhile).
   * @default 0
   */
  readonly registrationDelaySeconds?: number;
}

interface Target {
  readonly id: string;
  state: TargetHealthState;
  reason?: string;
  description?: string;
  /** Consecutive passed / failed checks. */
  passes: number;
  failures: number;
  /** Stops the health checks or the drain timer. */
  cancelTimer?: () => void;
}

const DESCRIPTIONS: Record<string, string> = {
  'Elb.RegistrationInProgress': 'Target registration is in progress',
  'Elb.InitialHealthChecking': 'Initial health checks in progress',
  'Target.ResponseCodeMismatch': 'Health checks failed with these codes: [503]',
  'Target.FailedHealthChecks': 'Health checks failed',
  'Target.DeregistrationInProgress': 'Target deregistration is in progress',
  'Target.NotRegistered': 'Target is not registered to the target group',
  'Target.InvalidState': 'Target is in the stopped or terminated state',
};

const FAILURE_REASONS: Record<Exclude<HealthCheckAnswer, 'ok'>, string> = {
  'error-status': 'Target.ResponseCodeMismatch',
  'connection-refused': 'Target.FailedHealthChecks',
};

/**
 * An ALB target group with instance targets: health checks every interval (healthy after
 * healthyThreshold consecutive passes, unhealthy after unhealthyThreshold consecutive failures),
 * `draining` for the whole deregistration delay, `unused`/`Target.InvalidState` for a terminated
 * instance until the Auto Scaling group removes it.
 */
export class SimulatedTargetGroup {
  readonly intervalMs: number;
  readonly timeoutSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly deregistrationDelayMs: number;
  readonly registrationDelayMs: number;
  /** Called when a target turns unhealthy (the Auto Scaling group's ELB health check listens). */
  onUnhealthy: (id: string) => void = () => undefined;
  private readonly targets = new Map<string, Target>();

  constructor(
    private readonly context: SimulationContext,
    private readonly fleet: Fleet,
    readonly arn: string,
    settings: TargetGroupSettings = {},
  ) {
    this.intervalMs = (settings.healthCheckIntervalSeconds ?? 5) * 1000;
    this.timeoutSeconds = settings.healthCheckTimeoutSeconds ?? 4;
    this.healthyThreshold = settings.healthyThresholdCount ?? 2;
    this.unhealthyThreshold = settings.unhealthyThresholdCount ?? 3;
    this.deregistrationDelayMs = (settings.deregistrationDelaySeconds ?? 30) * 1000;
    this.registrationDelayMs = (settings.registrationDelaySeconds ?? 0) * 1000;
  }

  /** A target that has been in service for a while (the starting fleet). */
  addHealthy(id: string): void {
    const target: Target = { id, state: 'healthy', passes: this.healthyThreshold, failures: 0 };
    this.targets.set(id, target);
    this.scheduleCheck(target);
    this.context.log.record('target', id, 'healthy');
  }

  register(ids: readonly string[]): void {
    const invalid = ids.filter((id) => !this.fleet.get(id)?.running);
    if (invalid.length > 0) {
      throw awsError('elbv2', 'InvalidTargetException', `The following targets are not in a running state and cannot be registered: '${invalid.join("', '")}'`);
    }
    for (const id of ids) {
      const existing = this.targets.get(id);
      // Registering a registered target changes nothing; a draining one is taken back in.
      if (existing && existing.state !== 'draining') continue;
      existing?.cancelTimer?.();
      const target: Target = { id, state: 'initial', passes: 0, failures: 0 };
      this.targets.set(id, target);
      this.setState(target, 'initial', 'Elb.RegistrationInProgress');
      this.scheduleCheck(target, this.registrationDelayMs + this.intervalMs);
    }
  }

  /** Targets that are not registered are ignored, as AWS does (it answers 200). */
  deregister(ids: readonly string[]): void {
    for (const id of ids) {
      const target = this.targets.get(id);
      if (!target || target.state === 'draining') continue;
      target.cancelTimer?.();
      this.setState(target, 'draining', 'Target.DeregistrationInProgress');
      target.cancelTimer = this.context.log.at(this.context.clock.now() + this.deregistrationDelayMs, () => this.remove(id));
    }
  }

  /** The instance stopped or was terminated: health checks end; it stays listed until removed. */
  instanceTerminated(id: string): void {
    const target = this.targets.get(id);
    if (!target || target.state === 'draining') return;
    target.cancelTimer?.();
    target.cancelTimer = undefined;
    this.setState(target, 'unused', 'Target.InvalidState');
  }

  remove(id: string): void {
    const target = this.targets.get(id);
    if (!target) return;
    target.cancelTimer?.();
    this.targets.delete(id);
    this.context.log.record('target', id, 'removed from the target group');
  }

  state(id: string): TargetHealthState | undefined {
    return this.targets.get(id)?.state;
  }

  /** DescribeTargetHealth: every listed target, or the asked ones (`unused`/`Target.NotRegistered` when not listed). */
  describe(ids?: readonly string[]): TargetHealthDescription[] {
    if (!ids) return [...this.targets.values()].map((target) => this.description(target));
    const malformed = ids.filter((id) => !/^i-[0-9a-f]{8,17}$/.test(id));
    if (malformed.length > 0) throw awsError('elbv2', 'InvalidTargetException', `The following targets are not valid instances: '${malformed.join("', '")}'`);
    return ids.map((id) => {
      const target = this.targets.get(id);
      if (target) return this.description(target);
      return this.description({ id, state: 'unused', reason: 'Target.NotRegistered', passes: 0, failures: 0 });
    });
  }

  snapshot(): TargetSnapshot[] {
    return [...this.targets.values()].map((target) => ({ id: target.id, state: target.state, ...(target.reason ? { reasonCode: target.reason } : {}) }));
  }

  private description(target: Target): TargetHealthDescription {
    return {
      Target: { Id: target.id, Port: 8080 },
      HealthCheckPort: '8080',
      TargetHealth: {
        State: target.state,
        ...(target.reason ? { Reason: target.reason, Description: target.description ?? DESCRIPTIONS[target.reason] } : {}),
      },
    } as TargetHealthDescription;
  }

  private scheduleCheck(target: Target, delayMs = this.intervalMs): void {
    target.cancelTimer = this.context.log.at(this.context.clock.now() + delayMs, () => {
      if (this.targets.get(target.id) !== target) return;
      this.check(target);
      if (target.state !== 'draining' && target.state !== 'unused') this.scheduleCheck(target);
    });
  }

  private check(target: Target): void {
    const answer = this.fleet.loadBalancerHealthCheck(target.id);
    if (answer === 'ok') {
      target.passes += 1;
      target.failures = 0;
    } else {
      target.failures += 1;
      target.passes = 0;
    }
    if (answer === 'ok' && target.state !== 'healthy' && target.passes >= this.healthyThreshold) {
      this.setState(target, 'healthy', undefined);
    } else if (answer !== 'ok' && target.state !== 'unhealthy' && target.failures >= this.unhealthyThreshold) {
      this.setState(target, 'unhealthy', FAILURE_REASONS[answer]);
      this.onUnhealthy(target.id);
    } else if (target.state === 'initial' && target.reason === 'Elb.RegistrationInProgress') {
      // The first check answered: still initial, now counting checks (not a change worth an event).
      target.reason = 'Elb.InitialHealthChecking';
    }
  }

  private setState(target: Target, state: TargetHealthState, reason: string | undefined): void {
    target.state = state;
    target.reason = reason;
    target.description = reason ? DESCRIPTIONS[reason] : undefined;
    this.context.log.record('target', target.id, reason ? `${state} (${reason})` : state);
  }
}
