import type {
  AutoScalingGroup,
  AutoScalingInstanceDetails,
  DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingInstancesCommandInput,
} from '@aws-sdk/client-auto-scaling';
import { awsError } from './aws-errors.ts';
import type { Fleet } from './fleet.ts';
import type { SimulatedParameterStore } from './parameter-store.ts';
import type { SimulatedRunCommand } from './run-command.ts';
import type { SimulationContext } from './simulation-context.ts';
import type { SimulatedTargetGroup } from './target-group.ts';

export const SCALING_PROCESSES = [
  'Launch',
  'Terminate',
  'AddToLoadBalancer',
  'AlarmNotification',
  'AZRebalance',
  'HealthCheck',
  'InstanceRefresh',
  'ReplaceUnhealthy',
  'ScheduledActions',
] as const;

export interface AutoScalingGroupSettings {
  /** How long the group takes to notice an unhealthy or terminated instance. @default 10 seconds */
  readonly reactionMs?: number;
  /** How long a replacement takes from launch to registering itself (boot plus install). @default 60 seconds */
  readonly bootMs?: number;
  /** New instances are not replaced for failing ELB checks this long after launch. @default 300 seconds */
  readonly healthCheckGracePeriodMs?: number;
}

/**
 * The app tier's Auto Scaling group (ELB health checks): it replaces instances that are terminated
 * or that the target group reports unhealthy, unless the processes that do so are suspended.
 * Replacements boot with the version in the current-version parameter and register themselves.
 */
export class SimulatedAutoScalingGroup {
  readonly name: string;
  readonly desiredCapacity: number;
  readonly suspended = new Set<string>();
  private readonly parameterName: string;
  private readonly members = new Set<string>();
  private readonly reactionMs: number;
  private readonly bootMs: number;
  private readonly gracePeriodMs: number;

  constructor(
    private readonly context: SimulationContext,
    private readonly fleet: Fleet,
    private readonly targetGroup: SimulatedTargetGroup,
    private readonly runCommand: SimulatedRunCommand,
    private readonly parameters: SimulatedParameterStore,
    settings: AutoScalingGroupSettings & { readonly name: string; readonly parameterName: string; readonly desiredCapacity: number },
  ) {
    this.name = settings.name;
    this.parameterName = settings.parameterName;
    this.desiredCapacity = settings.desiredCapacity;
    this.reactionMs = settings.reactionMs ?? 10_000;
    this.bootMs = settings.bootMs ?? 60_000;
    this.gracePeriodMs = settings.healthCheckGracePeriodMs ?? 300_000;
    targetGroup.onUnhealthy = () => this.reactSoon();
  }

  adopt(id: string): void {
    this.members.add(id);
  }

  suspend(groupName: string | undefined, processes: readonly string[] | undefined): void {
    for (const process of this.processes(groupName, processes)) {
      if (this.suspended.has(process)) continue;
      this.suspended.add(process);
      this.context.log.record('auto-scaling', process, 'suspended');
    }
  }

  resume(groupName: string | undefined, processes: readonly string[] | undefined): void {
    for (const process of this.processes(groupName, processes)) {
      if (!this.suspended.delete(process)) continue;
      this.context.log.record('auto-scaling', process, 'resumed');
    }
    this.reactSoon();
  }

  /** An instance dies outside the group's control (hardware, spot, a person). */
  terminateExternally(id: string): void {
    if (!this.fleet.get(id)?.running) return;
    this.fleet.terminate(id);
    this.targetGroup.instanceTerminated(id);
    this.runCommand.instanceTerminated(id);
    this.reactSoon();
  }

  describeGroups(input: DescribeAutoScalingGroupsCommandInput): AutoScalingGroup[] {
    // Unknown names are left out, as AWS does.
    if (input.AutoScalingGroupNames?.length && !input.AutoScalingGroupNames.includes(this.name)) return [];
    return [
      {
        AutoScalingGroupName: this.name,
        MinSize: this.desiredCapacity,
        MaxSize: this.desiredCapacity * 2,
        DesiredCapacity: this.desiredCapacity,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        HealthCheckType: 'ELB',
        HealthCheckGracePeriod: this.gracePeriodMs / 1000,
        TargetGroupARNs: [this.targetGroup.arn],
        CreatedTime: new Date(0),
        Instances: this.memberInstances().map((instance) => ({
          InstanceId: instance.id,
          AvailabilityZone: instance.availabilityZone,
          LifecycleState: instance.lifecycle,
          HealthStatus: this.healthStatus(instance.id) === 'HEALTHY' ? 'Healthy' : 'Unhealthy',
          ProtectedFromScaleIn: false,
        })),
        SuspendedProcesses: [...this.suspended].map((process) => ({ ProcessName: process, SuspensionReason: 'User suspended' })),
      },
    ];
  }

  describeInstances(input: DescribeAutoScalingInstancesCommandInput): AutoScalingInstanceDetails[] {
    return this.memberInstances()
      .filter((instance) => !input.InstanceIds?.length || input.InstanceIds.includes(instance.id))
      .map((instance) => ({
        InstanceId: instance.id,
        AutoScalingGroupName: this.name,
        AvailabilityZone: instance.availabilityZone,
        LifecycleState: instance.lifecycle,
        HealthStatus: this.healthStatus(instance.id),
        ProtectedFromScaleIn: false,
      }));
  }

  private memberInstances() {
    return [...this.members].flatMap((id) => this.fleet.get(id) ?? []);
  }

  private processes(groupName: string | undefined, processes: readonly string[] | undefined): readonly string[] {
    if (groupName !== this.name) throw awsError('autoScaling', 'ValidationError', `AutoScalingGroup name not found - no such group: ${groupName ?? ''}`);
    const unknown = (processes ?? []).filter((process) => !(SCALING_PROCESSES as readonly string[]).includes(process));
    if (unknown.length > 0) throw awsError('autoScaling', 'ValidationError', `Invalid scaling process(es): ${unknown.join(', ')}`);
    // Omitted means every process.
    return processes?.length ? processes : SCALING_PROCESSES;
  }

  private healthStatus(id: string): 'HEALTHY' | 'UNHEALTHY' {
    const instance = this.fleet.get(id);
    return instance?.running && this.targetGroup.state(id) !== 'unhealthy' ? 'HEALTHY' : 'UNHEALTHY';
  }

  private active(process: string): boolean {
    return !this.suspended.has(process);
  }

  private reactSoon(): void {
    this.context.log.at(this.context.clock.now() + this.reactionMs, () => this.reconcile());
  }

  /** What the group's periodic health check and capacity check would do now. */
  private reconcile(): void {
    const now = this.context.clock.now();
    if (this.active('HealthCheck') && this.active('ReplaceUnhealthy')) {
      for (const instance of this.memberInstances()) {
        if (instance.lifecycle === 'Terminated') {
          this.targetGroup.remove(instance.id);
          this.members.delete(instance.id);
          this.context.log.record('auto-scaling', instance.id, 'removed the terminated instance from the group');
        } else if (
          instance.lifecycle === 'InService' &&
          this.targetGroup.state(instance.id) === 'unhealthy' &&
          now - instance.launchedAt >= this.gracePeriodMs &&
          this.active('Terminate')
        ) {
          this.terminateUnhealthy(instance.id);
        }
      }
    }
    // A terminated instance counts until the health check has removed it: that is what holding HealthCheck prevents.
    if (this.active('Launch')) {
      for (let count = this.members.size; count < this.desiredCapacity; count += 1) this.launchReplacement();
    }
  }

  /** ReplaceUnhealthy: deregister (the target drains), terminate, then the capacity check launches a replacement. */
  private terminateUnhealthy(id: string): void {
    this.context.log.record('auto-scaling', id, 'replacing the unhealthy instance');
    this.fleet.setLifecycle(id, 'Terminating');
    this.targetGroup.deregister([id]);
    this.context.log.at(this.context.clock.now() + this.targetGroup.deregistrationDelayMs, () => {
      this.fleet.terminate(id);
      this.runCommand.instanceTerminated(id);
      this.members.delete(id);
      this.reconcile();
    });
  }

  private launchReplacement(): void {
    const instance = this.fleet.launch({ version: undefined, appUp: false, lifecycle: 'Pending' });
    this.members.add(instance.id);
    this.context.log.at(this.context.clock.now() + this.bootMs, () => {
      if (!instance.running) return;
      // The user data installs whatever the parameter names; "none" means wait for the first release.
      const version = this.parameters.value(this.parameterName);
      if (version !== undefined && version !== 'none') {
        this.fleet.setVersion(instance.id, version);
        this.fleet.setAppUp(instance.id, true);
      }
      this.fleet.setLifecycle(instance.id, 'InService');
      if (this.active('AddToLoadBalancer')) this.targetGroup.register([instance.id]);
    });
  }
}
