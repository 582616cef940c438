import type {
  AutoScalingGroup,
  AutoScalingInstanceDetails,
  DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingInstancesCommandInput,
  DescribeInstanceRefreshesCommandInput,
  DescribeInstanceRefreshesCommandOutput,
  InstanceRefreshStatus,
} from '@aws-sdk/client-auto-scaling';
import { awsError } from './aws-errors.ts';
import type { Fleet, SimulatedInstance } from './fleet.ts';
import type { SimulatedParameterStore } from './parameter-store.ts';
import type { SimulatedRunCommand } from './run-command.ts';
import type { SimulationContext } from './simulation-context.ts';
import type { SimulatedTargetGroup } from './target-group.ts';

/** Every process SuspendProcesses / ResumeProcesses accept (omitting the list means all of them). */
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

export type ScalingProcess = (typeof SCALING_PROCESSES)[number];

/**
 * What CloudFormation suspends for the app tier's rolling update (its UpdatePolicy) and resumes when
 * the update ends: AWS's recommended five, and InstanceRefresh.
 */
export const ROLLING_UPDATE_SUSPENDS: readonly ScalingProcess[] = ['HealthCheck', 'ReplaceUnhealthy', 'AZRebalance', 'AlarmNotification', 'ScheduledActions', 'InstanceRefresh'];

/** A CloudFormation rolling update of the group (AutoScalingRollingUpdate with resource signals). */
export interface RollingUpdateSettings {
  /** MinInstancesInService: a group with no more than this in service launches a replacement first. */
  readonly minInstancesInService: number;
  /** Called when every instance of the old launch template is replaced. */
  readonly onFinished: () => void;
}

interface InstanceRefreshRecord {
  readonly id: string;
  status: InstanceRefreshStatus;
  readonly startedAt: number;
  endedAt?: number;
  readonly instances: number;
}

export interface AutoScalingGroupSettings {
  /** How long the group takes to notice an unhealthy or terminated instance, or any other change. @default 10 seconds */
  readonly reactionMs?: number;
  /** How long a replacement takes from launch to registering itself (boot plus install). @default 60 seconds */
  readonly bootMs?: number;
  /** New instances are not replaced for failing ELB checks this long after launch. @default 300 seconds */
  readonly healthCheckGracePeriodMs?: number;
  /** The zones of the group's subnets; the starting fleet is spread over them in turn. @default ['us-east-1a', 'us-east-1b'] */
  readonly availabilityZones?: readonly string[];
  /** @default - the stack's minCapacity, 2 (or the starting fleet, if smaller) */
  readonly minSize?: number;
  /** @default - twice the starting fleet */
  readonly maxSize?: number;
  /** Finished (Successful) instance refreshes from the last six weeks, as DescribeInstanceRefreshes lists them. @default 0 */
  readonly pastInstanceRefreshes?: number;
  /** Most instance refreshes per DescribeInstanceRefreshes page (AWS: MaxRecords, default 50, at most 100). @default 50 */
  readonly refreshPageSize?: number;
  /** DescribeAutoScalingInstances page size (AWS: MaxRecords up to 50). @default 50 */
  readonly instancePageSize?: number;
}

/** A scheduled action (PutScheduledUpdateGroupAction): at `at`, the desired capacity becomes `desiredCapacity`. */
export interface ScheduledAction {
  readonly at: number;
  readonly desiredCapacity: number;
}

/** A simple scaling policy whose CloudWatch alarm is in breach from `at` until `until` (or for good). */
export interface ScalingAlarm {
  readonly at: number;
  readonly until?: number;
  /** Instances added (positive) or removed (negative) when the policy runs. */
  readonly adjustment: number;
}

/**
 * The app tier's Auto Scaling group (ELB health checks), with each process AWS documents for
 * SuspendProcesses doing what it does unless suspended:
 * - HealthCheck marks an instance unhealthy when it is terminated or the target group reports it
 *   unhealthy (after the grace period); the mark sticks, even once the target recovers. A custom
 *   health check (SetInstanceHealth) marks an instance whatever HealthCheck's state.
 * - ReplaceUnhealthy terminates marked instances (Terminate) and the capacity check launches
 *   replacements (Launch); suspended, marks wait and are acted on at resume.
 * - Launch and Terminate move the group towards its desired capacity; new instances go into the zone
 *   with the fewest, a scale-in takes one from the zone with the most.
 * - AddToLoadBalancer registers what the group launches.
 * - AZRebalance launches into the emptiest zone, then terminates from the fullest, when the zones
 *   differ by more than one instance.
 * - ScheduledActions run at their time; one due while suspended is skipped for good.
 * - AlarmNotification runs a scaling policy when its alarm breaches; suspended, a policy still in
 *   breach at resume runs then.
 * - InstanceRefresh replaces every instance launched before the refresh began, one at a time.
 *   DescribeInstanceRefreshes lists refreshes newest first (Pending, InProgress, then Successful), paginated.
 * A CloudFormation rolling update (startRollingUpdate) suspends ROLLING_UPDATE_SUSPENDS, replaces every
 * instance of the old launch template one at a time, going on only once the replacement signalled
 * (InService and healthy in the target group), launching first when the group is at
 * MinInstancesInService, and resumes those processes at the end, whoever else had suspended them.
 * Replacements boot with the version in the current-version parameter and register themselves.
 */
export class SimulatedAutoScalingGroup {
  readonly name: string;
  readonly minSize: number;
  readonly maxSize: number;
  desiredCapacity: number;
  readonly suspended = new Set<string>();
  private readonly parameterName: string;
  private readonly members = new Set<string>();
  /** Instances marked unhealthy: replaced by ReplaceUnhealthy, never healthy again. */
  private readonly markedUnhealthy = new Set<string>();
  private readonly zones: string[];
  private readonly reactionMs: number;
  private readonly bootMs: number;
  private readonly gracePeriodMs: number;
  private readonly scalingAlarms: { readonly alarm: ScalingAlarm; ran: boolean }[] = [];
  /** Instances an instance refresh still has to replace. */
  private readonly toRefresh = new Set<string>();
  private refreshCheck?: () => void;
  /** Every instance refresh, newest first. */
  private readonly refreshes: InstanceRefreshRecord[] = [];
  private readonly refreshPageSize: number;
  private readonly instancePageSize: number;
  private rolling?: { readonly settings: RollingUpdateSettings; readonly old: Set<string>; grown: boolean };
  private rollingCheck?: () => void;

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
    this.minSize = settings.minSize ?? Math.min(2, settings.desiredCapacity);
    this.maxSize = settings.maxSize ?? settings.desiredCapacity * 2;
    this.zones = [...(settings.availabilityZones ?? ['us-east-1a', 'us-east-1b'])];
    this.reactionMs = settings.reactionMs ?? 10_000;
    this.bootMs = settings.bootMs ?? 60_000;
    this.gracePeriodMs = settings.healthCheckGracePeriodMs ?? 300_000;
    this.refreshPageSize = settings.refreshPageSize ?? 50;
    this.instancePageSize = settings.instancePageSize ?? 50;
    for (let index = settings.pastInstanceRefreshes ?? 0; index > 0; index -= 1) {
      const startedAt = context.clock.now() - index * 86_400_000;
      this.refreshes.unshift({ id: this.refreshId(), status: 'Successful', startedAt, endedAt: startedAt + 1_800_000, instances: settings.desiredCapacity });
    }
    targetGroup.onUnhealthy = () => this.reactSoon();
  }

  /** The zone the starting fleet's `index`-th instance is in. */
  startingZone(index: number): string {
    return this.zones[index % this.zones.length];
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

  // --- what happens to the group from outside -----------------------------------------------------

  /** An instance dies outside the group's control (hardware, spot, a person). */
  terminateExternally(id: string): void {
    if (!this.fleet.get(id)?.running) return;
    this.fleet.terminate(id);
    this.targetGroup.instanceTerminated(id);
    this.runCommand.instanceTerminated(id);
    this.reactSoon();
  }

  /** A custom health check calls SetInstanceHealth Unhealthy: HealthCheck's suspension does not stop it. */
  setInstanceHealth(id: string, health: 'Healthy' | 'Unhealthy'): void {
    if (!this.members.has(id)) throw awsError('autoScaling', 'ValidationError', `Instance Id not found - No managed instance found for instance ID: ${id}`);
    if (health === 'Unhealthy') this.mark(id, 'set unhealthy by a custom health check');
    else this.markedUnhealthy.delete(id);
    this.reactSoon();
  }

  /** Schedules PutScheduledUpdateGroupAction's action. */
  scheduleAction(action: ScheduledAction): void {
    this.context.log.at(action.at, () => {
      if (!this.active('ScheduledActions')) {
        this.context.log.record('auto-scaling', 'ScheduledActions', `skipped the action due now (desired ${action.desiredCapacity}): suspended`);
        return;
      }
      this.setDesired(action.desiredCapacity, 'scheduled action');
    });
  }

  /** A scaling policy's alarm breaches at `at` (and stops at `until`). */
  addScalingAlarm(alarm: ScalingAlarm): void {
    const entry = { alarm, ran: false };
    this.scalingAlarms.push(entry);
    this.context.log.at(alarm.at, () => this.runScalingPolicies());
  }

  /** The group's subnets now also cover `zone` (a deploy added one, or the zone came back). */
  addAvailabilityZone(zone: string): void {
    this.zones.push(zone);
    this.context.log.record('auto-scaling', zone, 'availability zone added');
    this.reactSoon();
  }

  /** StartInstanceRefresh: every instance in the group now is replaced, one at a time. */
  startInstanceRefresh(): void {
    for (const instance of this.memberInstances()) if (instance.lifecycle === 'InService') this.toRefresh.add(instance.id);
    this.refreshes.unshift({ id: this.refreshId(), status: 'Pending', startedAt: this.context.clock.now(), instances: this.toRefresh.size });
    this.context.log.record('auto-scaling', 'InstanceRefresh', `started (${this.toRefresh.size} instances)`);
    this.reactSoon();
  }

  /** CloudFormation's rolling update of the group, after a launch template change. */
  startRollingUpdate(settings: RollingUpdateSettings): void {
    this.suspend(this.name, ROLLING_UPDATE_SUSPENDS);
    this.rolling = { settings, old: new Set(this.memberInstances().filter((instance) => instance.running).map((instance) => instance.id)), grown: false };
    this.context.log.record('auto-scaling', this.name, `rolling update started (${this.rolling.old.size} instances to replace)`);
    this.reactSoon();
  }

  // --- the API ---------------------------------------------------------------------------------------

  describeGroups(input: DescribeAutoScalingGroupsCommandInput): AutoScalingGroup[] {
    // Unknown names are left out, as AWS does.
    if (input.AutoScalingGroupNames?.length && !input.AutoScalingGroupNames.includes(this.name)) return [];
    return [
      {
        AutoScalingGroupName: this.name,
        MinSize: this.minSize,
        MaxSize: this.maxSize,
        DesiredCapacity: this.desiredCapacity,
        DefaultCooldown: 300,
        AvailabilityZones: [...this.zones],
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

  describeInstanceRefreshes(input: DescribeInstanceRefreshesCommandInput): DescribeInstanceRefreshesCommandOutput {
    const size = input.MaxRecords ?? 50;
    if (size < 1 || size > 100) throw awsError('autoScaling', 'ValidationError', `1 validation error detected: Value '${size}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
    const matching = this.refreshes
      .filter(() => input.AutoScalingGroupName === this.name)
      .filter((refresh) => !input.InstanceRefreshIds?.length || input.InstanceRefreshIds.includes(refresh.id));
    const start = input.NextToken === undefined ? 0 : Number(Buffer.from(input.NextToken, 'base64').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw awsError('autoScaling', 'InvalidNextToken', 'The token provided is not valid.');
    const end = start + Math.min(size, this.refreshPageSize);
    return {
      $metadata: {},
      InstanceRefreshes: matching.slice(start, end).map((refresh) => ({
        InstanceRefreshId: refresh.id,
        AutoScalingGroupName: this.name,
        Status: refresh.status,
        StartTime: new Date(refresh.startedAt),
        ...(refresh.endedAt === undefined ? {} : { EndTime: new Date(refresh.endedAt) }),
        PercentageComplete: refresh.status === 'Successful' ? 100 : Math.round((100 * (refresh.instances - this.toRefresh.size)) / Math.max(1, refresh.instances)),
        InstancesToUpdate: refresh.status === 'Successful' ? 0 : this.toRefresh.size,
      })),
      ...(end < matching.length ? { NextToken: Buffer.from(String(end)).toString('base64') } : {}),
    };
  }

  /** Instances of the group (AWS: of any group in the account) in pages; unknown ids are left out. */
  describeInstances(input: DescribeAutoScalingInstancesCommandInput): { AutoScalingInstances: AutoScalingInstanceDetails[]; NextToken?: string } {
    if ((input.InstanceIds?.length ?? 0) > 50) {
      throw awsError('autoScaling', 'ValidationError', "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50");
    }
    const size = input.MaxRecords ?? 50;
    if (size < 1 || size > 50) throw awsError('autoScaling', 'ValidationError', `1 validation error detected: Value '${size}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 50`);
    const start = input.NextToken === undefined ? 0 : Number(Buffer.from(input.NextToken, 'base64').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw awsError('autoScaling', 'InvalidNextToken', 'The token provided is not valid.');
    const matching = this.memberInstances().filter((instance) => !input.InstanceIds?.length || input.InstanceIds.includes(instance.id));
    const end = start + Math.min(size, this.instancePageSize);
    const page = matching.slice(start, end)
      .map((instance) => ({
        InstanceId: instance.id,
        AutoScalingGroupName: this.name,
        AvailabilityZone: instance.availabilityZone,
        LifecycleState: instance.lifecycle,
        HealthStatus: this.healthStatus(instance.id),
        ProtectedFromScaleIn: false,
      }));
    return { AutoScalingInstances: page, ...(end < matching.length ? { NextToken: Buffer.from(String(end)).toString('base64') } : {}) };
  }

  // --- the processes ---------------------------------------------------------------------------------

  private reactSoon(): void {
    this.context.log.at(this.context.clock.now() + this.reactionMs, () => this.reconcile());
  }

  /** What the group's periodic checks would do now, process by process. */
  private reconcile(): void {
    this.checkHealth();
    this.replaceUnhealthy();
    this.runScalingPolicies();
    this.keepDesiredCapacity();
    this.rebalanceZones();
    this.refreshInstances();
    this.rollInstances();
  }

  /** HealthCheck: marks terminated instances, and targets the load balancer reports unhealthy after the grace period. */
  private checkHealth(): void {
    if (!this.active('HealthCheck')) return;
    const now = this.context.clock.now();
    for (const instance of this.memberInstances()) {
      if (!instance.running) this.mark(instance.id, 'EC2 reports it terminated');
      else if (instance.lifecycle === 'InService' && this.targetGroup.state(instance.id) === 'unhealthy' && now - instance.launchedAt >= this.gracePeriodMs) {
        this.mark(instance.id, 'the load balancer reports it unhealthy');
      }
    }
  }

  /** ReplaceUnhealthy: terminates marked instances (the capacity check then launches replacements). */
  private replaceUnhealthy(): void {
    if (!this.active('ReplaceUnhealthy') || !this.active('Terminate')) return;
    for (const instance of this.memberInstances()) {
      if (!this.markedUnhealthy.has(instance.id)) continue;
      if (instance.lifecycle === 'Terminated') {
        this.targetGroup.remove(instance.id);
        this.members.delete(instance.id);
        this.context.log.record('auto-scaling', instance.id, 'removed the terminated instance from the group');
      } else if (instance.lifecycle === 'InService') {
        this.terminateMember(instance.id, 'replacing the unhealthy instance');
      }
    }
  }

  /** AlarmNotification: each policy whose alarm is in breach runs once. */
  private runScalingPolicies(): void {
    if (!this.active('AlarmNotification')) return;
    const now = this.context.clock.now();
    for (const entry of this.scalingAlarms) {
      const { at, until, adjustment } = entry.alarm;
      if (entry.ran || now < at || (until !== undefined && now >= until)) continue;
      entry.ran = true;
      this.setDesired(this.desiredCapacity + adjustment, `scaling policy (${adjustment > 0 ? '+' : ''}${adjustment})`);
    }
  }

  /** Launch and Terminate: towards the desired capacity. A terminated instance counts until it is removed. */
  private keepDesiredCapacity(): void {
    if (this.active('Launch')) {
      for (let count = this.members.size; count < this.desiredCapacity; count += 1) this.launch();
    }
    const serving = this.memberInstances().filter((instance) => instance.lifecycle === 'InService' || instance.lifecycle === 'Pending');
    // A rebalance launches before it terminates: wait for the new instance before scaling in.
    if (!this.active('Terminate') || serving.some((instance) => instance.lifecycle === 'Pending')) return;
    for (let count = serving.length; count > this.desiredCapacity; count -= 1) {
      const victim = this.scaleInCandidate();
      if (!victim) return;
      this.terminateMember(victim.id, 'scaling in');
    }
  }

  /** AZRebalance: one launch into the emptiest zone; the capacity check then scales in the fullest. */
  private rebalanceZones(): void {
    if (!this.active('AZRebalance') || !this.active('Launch') || this.busy()) return;
    const counts = this.zoneCounts();
    const fewest = Math.min(...counts.values());
    const most = Math.max(...counts.values());
    if (most - fewest <= 1) return;
    this.context.log.record('auto-scaling', 'AZRebalance', `zones hold ${[...counts.values()].join('/')} instances: rebalancing`);
    this.launch();
  }

  /** InstanceRefresh: terminates the next instance to replace once the last replacement serves. */
  private refreshInstances(): void {
    const [latest] = this.refreshes;
    const active = latest !== undefined && (latest.status === 'Pending' || latest.status === 'InProgress');
    if (!active || !this.active('InstanceRefresh') || !this.active('Launch') || !this.active('Terminate')) return;
    latest.status = 'InProgress';
    const serving = this.settled();
    if (serving && this.toRefresh.size === 0) {
      latest.status = 'Successful';
      latest.endedAt = this.context.clock.now();
      this.context.log.record('auto-scaling', 'InstanceRefresh', 'successful');
      return;
    }
    if (!serving) {
      // Look again once the replacement may be healthy.
      this.refreshCheck ??= this.context.log.at(this.context.clock.now() + this.reactionMs, () => {
        this.refreshCheck = undefined;
        this.reconcile();
      });
      return;
    }
    for (const id of this.toRefresh) {
      this.toRefresh.delete(id);
      if (this.fleet.get(id)?.lifecycle !== 'InService' || !this.members.has(id)) continue;
      this.terminateMember(id, 'instance refresh');
      return;
    }
    // Every one left was gone already: the refresh ends at the next check.
    this.reactSoon();
  }

  /** CloudFormation's rolling update: the next batch of one once the last replacement signalled. */
  private rollInstances(): void {
    const rolling = this.rolling;
    if (!rolling || !this.active('Launch') || !this.active('Terminate')) return;
    if (!this.settled()) {
      // The last replacement has not signalled yet (CloudFormation waits, up to PauseTime).
      this.rollingCheck ??= this.context.log.at(this.context.clock.now() + this.reactionMs, () => {
        this.rollingCheck = undefined;
        this.reconcile();
      });
      return;
    }
    const members = this.memberInstances();
    // An old instance from the fullest zone, so that the zones stay balanced.
    const counts = this.zoneCounts();
    const next = members
      .filter((instance) => rolling.old.has(instance.id))
      .sort((left, right) => (counts.get(right.availabilityZone) ?? 0) - (counts.get(left.availabilityZone) ?? 0) || left.launchedAt - right.launchedAt)[0];
    if (!next) {
      this.rolling = undefined;
      this.context.log.record('auto-scaling', this.name, 'rolling update finished');
      this.resume(this.name, ROLLING_UPDATE_SUSPENDS);
      rolling.settings.onFinished();
      return;
    }
    if (members.length - 1 < rolling.settings.minInstancesInService && this.desiredCapacity < this.maxSize) {
      // At MinInstancesInService: launch the replacement first, above the desired capacity.
      rolling.grown = true;
      this.desiredCapacity += 1;
      this.context.log.record('auto-scaling', this.name, `rolling update: desired capacity ${this.desiredCapacity - 1} → ${this.desiredCapacity} to launch first`);
      // Into the zone of the instance it replaces: the zones stay balanced.
      this.launch(next.availabilityZone);
      return;
    }
    rolling.old.delete(next.id);
    if (rolling.grown) {
      rolling.grown = false;
      this.desiredCapacity -= 1;
    }
    this.terminateMember(next.id, 'rolling update: replacing an instance of the old launch template');
  }

  /** Every member in service and healthy, and as many as desired: the last replacement serves. */
  private settled(): boolean {
    const members = this.memberInstances();
    return members.length >= this.desiredCapacity && members.every((instance) => instance.lifecycle === 'InService' && this.targetGroup.state(instance.id) === 'healthy');
  }

  /** Instance refresh ids look like AWS's (a UUID), numbered so that they take nothing from the seeded source. */
  private refreshId(): string {
    return `00000000-0000-4000-8000-${String(this.refreshes.length + 1).padStart(12, '0')}`;
  }

  // --- helpers -----------------------------------------------------------------------------------------

  private setDesired(desired: number, why: string): void {
    const clamped = Math.min(this.maxSize, Math.max(this.minSize, desired));
    if (clamped === this.desiredCapacity) return;
    this.context.log.record('auto-scaling', this.name, `desired capacity ${this.desiredCapacity} → ${clamped} (${why})`);
    this.desiredCapacity = clamped;
    this.reconcile();
  }

  private mark(id: string, why: string): void {
    if (this.markedUnhealthy.has(id)) return;
    this.markedUnhealthy.add(id);
    this.context.log.record('auto-scaling', id, `marked unhealthy: ${why}`);
  }

  /** Deregister (the target drains), terminate, remove; then the capacity check runs again. */
  private terminateMember(id: string, why: string): void {
    this.context.log.record('auto-scaling', id, why);
    this.fleet.setLifecycle(id, 'Terminating');
    this.targetGroup.deregister([id]);
    this.context.log.at(this.context.clock.now() + this.targetGroup.deregistrationDelayMs, () => {
      this.fleet.terminate(id);
      this.runCommand.instanceTerminated(id);
      this.targetGroup.remove(id);
      this.members.delete(id);
      this.markedUnhealthy.delete(id);
      this.reconcile();
    });
  }

  /** The default termination policy, simplified: the zone with the most instances, then the oldest instance there. */
  private scaleInCandidate(): SimulatedInstance | undefined {
    const counts = this.zoneCounts();
    const fullest = [...counts.entries()].sort(([, left], [, right]) => right - left)[0]?.[0];
    return this.memberInstances()
      .filter((instance) => instance.lifecycle === 'InService' && instance.availabilityZone === fullest)
      .sort((left, right) => left.launchedAt - right.launchedAt || left.id.localeCompare(right.id))[0];
  }

  private launch(zone = [...this.zoneCounts().entries()].sort(([, left], [, right]) => left - right)[0][0]): void {
    const instance = this.fleet.launch({ version: undefined, appUp: false, lifecycle: 'Pending', availabilityZone: zone });
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
      this.reactSoon();
    });
  }

  /** Instances launching or terminating: rebalancing and refreshes wait for them. */
  private busy(): boolean {
    return this.memberInstances().some((instance) => instance.lifecycle === 'Pending' || instance.lifecycle === 'Terminating');
  }

  /** Running instances per zone of the group (zones without any count 0). */
  private zoneCounts(): Map<string, number> {
    const counts = new Map(this.zones.map((zone) => [zone, 0]));
    for (const instance of this.memberInstances()) {
      if (instance.lifecycle === 'Pending' || instance.lifecycle === 'InService') counts.set(instance.availabilityZone, (counts.get(instance.availabilityZone) ?? 0) + 1);
    }
    return counts;
  }

  private memberInstances(): SimulatedInstance[] {
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
    return this.fleet.get(id)?.running && !this.markedUnhealthy.has(id) ? 'HEALTHY' : 'UNHEALTHY';
  }

  private active(process: ScalingProcess): boolean {
    return !this.suspended.has(process);
  }
}
