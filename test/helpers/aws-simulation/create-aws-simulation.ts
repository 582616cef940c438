import type { StackStatus } from '@aws-sdk/client-cloudformation';
import type { StateValue } from '@aws-sdk/client-cloudwatch';
import { currentVersionParameterName, schemaVersionParameterName, StackOutputs, stackName } from '../../../lib/runtime/stack-contract.ts';
import { VirtualClock } from '../virtual-clock.ts';
import { type SimulatedAlarmSpec, SimulatedAlarms } from './alarms.ts';
import { ApiFaults, type CallFilter, type FaultKind, type ThrottlePlan } from './api-faults.ts';
import { SimulatedArtifactBucket } from './artifact-bucket.ts';
import { type AutoScalingGroupSettings, type ScalingAlarm, type ScheduledAction, SimulatedAutoScalingGroup } from './auto-scaling-group.ts';
import { SimulatedStacks } from './cloudformation-stacks.ts';
import { Fleet } from './fleet.ts';
import { type MetricsSettings, SimulatedMetrics } from './metrics.ts';
import { type ApiCall, mockAwsClients, type SimulatedClients } from './mock-clients.ts';
import { SimulatedParameterStore } from './parameter-store.ts';
import { type InstallFailure, type RunCommandSettings, SimulatedRunCommand } from './run-command.ts';
import { seededRandom } from './seeded-random.ts';
import type { SimulationContext } from './simulation-context.ts';
import {
  type InstanceSnapshot,
  type InvariantCheck,
  type InvariantViolation,
  type SimulationEvent,
  SimulationLog,
  type SimulationSnapshot,
  type TargetSnapshot,
} from './simulation-log.ts';
import { SimulatedTargetGroup, type TargetGroupSettings } from './target-group.ts';

export interface AwsSimulationOptions {
  /** Seeds instance ids (and nothing else random). @default 1 */
  readonly seed?: number;
  /** The stage whose stack, parameter and resource names are simulated. @default 'dev' */
  readonly stage?: string;
  /** Instances in service at the start, all healthy targets. @default 3 */
  readonly instances?: number;
  /** What they run, and what the current-version parameter holds. @default '1.0.0' */
  readonly initialVersion?: string;
  /** Versions whose app never passes its health check (install exits 4, targets turn unhealthy). @default - none */
  readonly badVersions?: readonly string[];
  /**
   * Versions whose app listens on 127.0.0.1 only: the install's own health check passes, the load
   * balancer's is refused, so the target never turns healthy (Target.FailedHealthChecks).
   * @default - none
   */
  readonly loopbackOnlyVersions?: readonly string[];
  /** Versions without an artifact in the bucket (install exits 3). @default - none */
  readonly missingArtifacts?: readonly string[];
  /** Versions whose artifact was uploaded without its .sha256 checksum (install exits 3). @default - none */
  readonly missingChecksums?: readonly string[];
  /** The manifest.json inside each version's artifact. @default - `{ version, requiredMigration: 0 }` */
  readonly artifactManifests?: Readonly<Record<string, object>>;
  /**
   * The stage's schema-version parameter, as the stack's migration custom resource wrote it.
   * @default - none: the stage has no database
   */
  readonly schemaVersion?: string;
  /** @default - the stack's: 5 s interval, 2 healthy / 3 unhealthy, 30 s deregistration delay */
  readonly targetGroup?: TargetGroupSettings;
  /** @default - 20 s installs, invocation visible after 0.5 s, delivered after 1 s */
  readonly runCommand?: RunCommandSettings;
  /** @default - reacts in 10 s, replacements boot in 60 s, 300 s grace period, two zones */
  readonly autoScaling?: AutoScalingGroupSettings;
  /** @default - the release gate (composite) and two metric alarms, all OK */
  readonly alarms?: readonly SimulatedAlarmSpec[];
  /** DescribeAlarms page size, small so that pagination is exercised. @default 2 */
  readonly alarmPageSize?: number;
  /** @default - values queryable 30 s after their minute closes, GetMetricData pages of 5 datapoints */
  readonly metrics?: MetricsSettings;
  /** Virtual time every API call takes. @default 0 */
  readonly callLatencyMs?: number;
  /** @default - a new VirtualClock at SIMULATION_EPOCH */
  readonly clock?: VirtualClock;
}

/** The names of the simulated stage's resources, as its stack outputs name them. */
export interface SimulatedResourceNames {
  readonly region: string;
  readonly stackName: string;
  readonly targetGroupArn: string;
  readonly autoScalingGroupName: string;
  readonly artifactBucketName: string;
  readonly currentVersionParameterName: string;
  readonly releaseGateAlarmName: string;
  readonly releaseTableName: string;
  readonly schemaVersionParameterName: string;
}

export interface SimulationState {
  snapshot(): SimulationSnapshot;
  instances(): InstanceSnapshot[];
  /** Version per running instance. */
  versions(): Record<string, string | undefined>;
  /** What DescribeTargetHealth lists (registered, draining, unused). */
  targets(): TargetSnapshot[];
  /** Ids of targets registered and not draining. */
  registeredTargets(): string[];
  suspendedProcesses(): string[];
  /** The Auto Scaling group's desired capacity (scaling policies and scheduled actions change it). */
  desiredCapacity(): number;
  /** The raw current-version parameter. */
  launchVersion(): string | undefined;
  firingAlarms(): string[];
  /** The stage stack's StackStatus (undefined once deleted). */
  stackStatus(): StackStatus | undefined;
  /** Every state change so far. */
  readonly events: readonly SimulationEvent[];
  /** Every API call so far. */
  readonly calls: readonly ApiCall[];
}

export interface SimulationFaults {
  /** Throttles (or fails with 5xx) a seeded share of the matching calls from now on. */
  throttle(plan: ThrottlePlan): void;
  /** Throttles (or fails with 5xx) the next `count` matching calls. */
  failNextCalls(count: number, filter?: CallFilter, kind?: FaultKind): void;
  clearCallFaults(): void;
  /** `sluice-install <version>` on `instanceId` fails (see InstallFailure). */
  failInstall(instanceId: string, version: string, failure?: InstallFailure): void;
  /** The version's app never passes its health check. */
  markBadVersion(version: string): void;
  removeArtifact(version: string): void;
  /** A deploy's migration custom resource succeeded: the stack writes the schema-version parameter. */
  setSchemaVersion(value: string): void;
  /** Deletes the version's .sha256 checksum object, leaving the tarball. */
  removeChecksum(version: string): void;
  setAlarmState(name: string, state: StateValue): void;
  fireAlarmAt(name: string, at: number, resolveAt?: number): void;
  /** The alarm is in ALARM exactly while a healthy target runs `version`. */
  alarmWhileServing(name: string, version: string): void;
  terminateInstance(instanceId: string): void;
  terminateInstanceAt(instanceId: string, at: number): void;
  /** The app on `instanceId` crashes (the instance keeps running), and comes back after `downForMs` if given. */
  crashApp(instanceId: string, downForMs?: number): void;
  /** A custom health check calls SetInstanceHealth: HealthCheck's suspension does not stop it. */
  setInstanceHealth(instanceId: string, health: 'Healthy' | 'Unhealthy'): void;
  /** A scheduled action sets the group's desired capacity at `at` (skipped if ScheduledActions is suspended then). */
  scheduleAction(action: ScheduledAction): void;
  /** A scaling policy's alarm breaches from `at` (to `until`): AlarmNotification runs the policy. */
  scalingAlarm(alarm: ScalingAlarm): void;
  /** The group's subnets now also cover `zone`: the group is unbalanced until AZRebalance acts. */
  addAvailabilityZone(zone: string): void;
  /** StartInstanceRefresh: the group replaces every instance it has now, one at a time. */
  startInstanceRefresh(): void;
  /** See StackDeploy. */
  deployStack(deploy?: StackDeploy): void;
  /** The stack is in `status` from now on (a deploy that a test plays by hand). */
  setStackStatus(status: StackStatus): void;
  deleteStack(): void;
}

/**
 * `cdk deploy` of the stage stack: UPDATE_IN_PROGRESS; with a launch template change, CloudFormation
 * reaches the group after `groupAfterMs` and runs its rolling update (one instance at a time, each
 * waiting for its signal, MinInstancesInService = the group's minimum); then
 * UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and, `cleanupMs` later, UPDATE_COMPLETE.
 */
export interface StackDeploy {
  /** @default true */
  readonly replacesInstances?: boolean;
  /** @default 30 seconds */
  readonly groupAfterMs?: number;
  /** Without a rolling update, how long the update takes. @default 60 seconds */
  readonly updateMs?: number;
  /** @default 15 seconds */
  readonly cleanupMs?: number;
}

export interface SimulationInvariants {
  /** Checks `check` now and after every change; see invariants.ts for ready-made ones. */
  add(name: string, check: InvariantCheck): void;
  readonly violations: readonly InvariantViolation[];
}

export interface AwsSimulation {
  readonly clock: VirtualClock;
  /** Real SDK clients (us-east-1, fake credentials, maxAttempts 1) answered by the simulation. */
  readonly clients: SimulatedClients;
  readonly names: SimulatedResourceNames;
  readonly state: SimulationState;
  readonly faults: SimulationFaults;
  readonly invariants: SimulationInvariants;
  /** CloudWatch's custom metrics: what the release marker published, and the traffic a test generates. */
  readonly metrics: SimulatedMetrics;
  /** Drives virtual time until `work` settles (VirtualClock.run). */
  run<T>(work: Promise<T>): Promise<T>;
  /** Like run, and says how much virtual time `work` took (it must have been started just now). */
  timed<T>(work: Promise<T>): Promise<{ readonly value: T; readonly elapsedMs: number }>;
  /** Undoes the client mocks. */
  restore(): void;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** A stateful simulation of the AWS control planes a release talks to, in virtual time. */
export function createAwsSimulation(options: AwsSimulationOptions = {}): AwsSimulation {
  const stage = options.stage ?? 'dev';
  const initialVersion = options.initialVersion ?? '1.0.0';
  const names: SimulatedResourceNames = {
    region: REGION,
    stackName: stackName(stage),
    targetGroupArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/sluice-${stage}-web/0123456789abcdef`,
    autoScalingGroupName: `sluice-${stage}-app`,
    artifactBucketName: `sluice-${stage}-artifacts-${ACCOUNT}`,
    currentVersionParameterName: currentVersionParameterName(stage),
    releaseGateAlarmName: `sluice-${stage}-release-gate`,
    releaseTableName: `sluice-${stage}-release`,
    schemaVersionParameterName: schemaVersionParameterName(stage),
  };

  const clock = options.clock ?? new VirtualClock();
  let snapshot: () => SimulationSnapshot = () => {
    throw new Error('simulation: not wired yet');
  };
  const log = new SimulationLog(clock, () => snapshot());
  const context: SimulationContext = { clock, log, random: seededRandom(options.seed ?? 1) };

  const fleet = new Fleet(context, new Set(options.badVersions ?? []), new Set(options.loopbackOnlyVersions ?? []));
  const bucket = new SimulatedArtifactBucket(names.artifactBucketName, options.missingArtifacts, options.missingChecksums, options.artifactManifests);
  const parameters = new SimulatedParameterStore(context);
  const targetGroup = new SimulatedTargetGroup(context, fleet, names.targetGroupArn, options.targetGroup);
  const runCommand = new SimulatedRunCommand(context, fleet, bucket, options.runCommand);
  const instanceCount = options.instances ?? 3;
  const autoScalingGroup = new SimulatedAutoScalingGroup(context, fleet, targetGroup, runCommand, parameters, {
    name: names.autoScalingGroupName,
    parameterName: names.currentVersionParameterName,
    desiredCapacity: instanceCount,
    ...options.autoScaling,
  });
  const alarms = new SimulatedAlarms(
    context,
    options.alarms ?? [
      { name: names.releaseGateAlarmName, type: 'composite' },
      { name: `sluice-${stage}-alb-5xx` },
      { name: `sluice-${stage}-unhealthy-hosts` },
    ],
    options.alarmPageSize ?? 2,
    REGION,
    ACCOUNT,
  );
  const stacks = new SimulatedStacks(context, REGION, ACCOUNT);
  const metrics = new SimulatedMetrics(
    context,
    () => targetGroup.snapshot().filter((target) => target.state === 'healthy').map((target) => fleet.get(target.id)?.version ?? 'none'),
    options.metrics,
  );

  const state: SimulationState = {
    snapshot: () => ({
      at: clock.now(),
      instances: fleet.snapshot(),
      targets: targetGroup.snapshot(),
      suspendedProcesses: [...autoScalingGroup.suspended].sort(),
      launchVersion: parameters.value(names.currentVersionParameterName),
      firingAlarms: alarms.firing(),
    }),
    instances: () => fleet.snapshot(),
    versions: () => Object.fromEntries(fleet.all().filter((instance) => instance.running).map((instance) => [instance.id, instance.version])),
    targets: () => targetGroup.snapshot(),
    registeredTargets: () => targetGroup.snapshot().filter((target) => target.state !== 'draining' && target.state !== 'unused').map((target) => target.id),
    suspendedProcesses: () => [...autoScalingGroup.suspended].sort(),
    desiredCapacity: () => autoScalingGroup.desiredCapacity,
    launchVersion: () => parameters.value(names.currentVersionParameterName),
    firingAlarms: () => alarms.firing(),
    stackStatus: () => stacks.status(names.stackName),
    events: log.events,
    calls: [],
  };
  snapshot = state.snapshot;

  // --- the starting point: a deployed stack, a healthy fleet on the initial version -------------
  log.change(() => {
    parameters.put({ Name: names.currentVersionParameterName, Value: initialVersion, Type: 'String' });
    if (options.schemaVersion !== undefined) parameters.put({ Name: names.schemaVersionParameterName, Value: options.schemaVersion, Type: 'String' });
    for (let index = 0; index < instanceCount; index += 1) {
      const instance = fleet.launch({ version: initialVersion, appUp: true, lifecycle: 'InService', availabilityZone: autoScalingGroup.startingZone(index), launchedAt: clock.now() - 86_400_000 });
      autoScalingGroup.adopt(instance.id);
      targetGroup.addHealthy(instance.id);
    }
  });
  stacks.deploy(names.stackName, {
    [StackOutputs.targetGroupArn]: names.targetGroupArn,
    [StackOutputs.autoScalingGroupName]: names.autoScalingGroupName,
    [StackOutputs.artifactBucketName]: names.artifactBucketName,
    [StackOutputs.releaseTableName]: names.releaseTableName,
    [StackOutputs.currentVersionParameterName]: names.currentVersionParameterName,
    [StackOutputs.releaseGateAlarmName]: names.releaseGateAlarmName,
  });

  const apiFaults = new ApiFaults();
  const { clients, restore } = mockAwsClients(
    { targetGroup, runCommand, parameters, alarms, autoScalingGroup, stacks, bucket, metrics },
    context,
    apiFaults,
    state.calls as ApiCall[],
    { region: REGION, callLatencyMs: options.callLatencyMs ?? 0 },
  );

  const faults: SimulationFaults = {
    throttle: (plan) => apiFaults.throttle(plan),
    failNextCalls: (count, filter, kind) => apiFaults.failNext(count, filter, kind),
    clearCallFaults: () => apiFaults.clear(),
    failInstall: (instanceId, version, failure = {}) => runCommand.failures.set(`${instanceId} ${version}`, failure),
    markBadVersion: (version) => log.change(() => fleet.badVersions.add(version)),
    removeArtifact: (version) => bucket.missing.add(version),
    setSchemaVersion: (value) => log.change(() => parameters.put({ Name: names.schemaVersionParameterName, Value: value, Type: 'String', Overwrite: true })),
    removeChecksum: (version) => bucket.missingChecksums.add(version),
    setAlarmState: (name, value) => log.change(() => alarms.setState(name, value)),
    fireAlarmAt: (name, at, resolveAt) => alarms.fireAt(name, at, resolveAt),
    alarmWhileServing: (name, version) =>
      log.change(() =>
        alarms.whileCondition(name, () =>
          targetGroup.snapshot().some((target) => target.state === 'healthy' && fleet.get(target.id)?.version === version),
        ),
      ),
    terminateInstance: (instanceId) => log.change(() => autoScalingGroup.terminateExternally(instanceId)),
    terminateInstanceAt: (instanceId, at) => {
      log.at(at, () => autoScalingGroup.terminateExternally(instanceId));
    },
    crashApp: (instanceId, downForMs) => {
      log.change(() => fleet.setAppUp(instanceId, false));
      if (downForMs !== undefined) log.at(clock.now() + downForMs, () => fleet.setAppUp(instanceId, true));
    },
    setInstanceHealth: (instanceId, health) => log.change(() => autoScalingGroup.setInstanceHealth(instanceId, health)),
    scheduleAction: (action) => autoScalingGroup.scheduleAction(action),
    scalingAlarm: (alarm) => autoScalingGroup.addScalingAlarm(alarm),
    addAvailabilityZone: (zone) => log.change(() => autoScalingGroup.addAvailabilityZone(zone)),
    startInstanceRefresh: () => log.change(() => autoScalingGroup.startInstanceRefresh()),
    deployStack: ({ replacesInstances = true, groupAfterMs = 30_000, updateMs = 60_000, cleanupMs = 15_000 } = {}) => {
      log.change(() => stacks.setStatus(names.stackName, 'UPDATE_IN_PROGRESS'));
      const complete = () => {
        stacks.setStatus(names.stackName, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
        log.at(clock.now() + cleanupMs, () => stacks.setStatus(names.stackName, 'UPDATE_COMPLETE'));
      };
      if (!replacesInstances) {
        log.at(clock.now() + updateMs, complete);
        return;
      }
      log.at(clock.now() + groupAfterMs, () => autoScalingGroup.startRollingUpdate({ minInstancesInService: autoScalingGroup.minSize, onFinished: complete }));
    },
    setStackStatus: (status) => log.change(() => stacks.setStatus(names.stackName, status)),
    deleteStack: () => stacks.delete(names.stackName),
  };

  return {
    clock,
    clients,
    names,
    state,
    faults,
    invariants: { add: (name, check) => log.addInvariant(name, check), violations: log.violations },
    metrics,
    run: (work) => clock.run(work),
    timed: async (work) => {
      const startedAt = clock.now();
      const value = await clock.run(work);
      return { value, elapsedMs: clock.now() - startedAt };
    },
    restore,
  };
}
