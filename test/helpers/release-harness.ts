import { AutoScalingInstanceGuard } from '../../lib/runtime/release/aws/auto-scaling-instance-guard.ts';
import { CloudWatchAlarmGate } from '../../lib/runtime/release/aws/cloudwatch-alarm-gate.ts';
import { Elbv2TargetPool } from '../../lib/runtime/release/aws/elbv2-target-pool.ts';
import { Elbv2WaiterTargetPool } from '../bench/elbv2-waiter-target-pool.ts';
import { SsmInstaller } from '../../lib/runtime/release/aws/ssm-installer.ts';
import type { Clock } from '../../lib/runtime/clock.ts';
import { DynamoDbReleaseStore } from '../../lib/runtime/release/aws/dynamodb-release-store.ts';
import type { ReleasePorts } from '../../lib/runtime/release/ports.ts';
import { ReleaseEngine, type ReleaseEngineProps } from '../../lib/runtime/release/release-engine.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from './aws-simulation/create-aws-simulation.ts';
import { routeGlobalTimersTo } from './aws-simulation/global-timers.ts';
import { healthyTargetsAtLeast, noTrafficToStoppedApps, targetsOutOfServiceAtMost } from './aws-simulation/invariants.ts';
import type { LocalDynamoDb } from './dynalite.ts';
import type { VirtualClock } from './virtual-clock.ts';

export interface ReleasePortsWithClock extends ReleasePorts {
  readonly clock: Clock;
}

/** A "process" that can be SIGKILLed: once killed, every call it makes and every timer it waits on never returns. */
export class KillSwitch {
  killed = false;

  kill(): void {
    this.killed = true;
  }

  /** Wraps every method of `port` so that a killed process freezes where it stands. */
  wrap<T extends object>(port: T): T {
    return new Proxy(port, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (this.killed) return new Promise(() => undefined);
          const result = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (resolved) => (this.killed ? new Promise(() => undefined) : resolved),
            (error) => (this.killed ? new Promise(() => undefined) : Promise.reject(error)),
          );
        };
      },
    });
  }
}

/** Every method call of `port` is real I/O: virtual time stands still until it returns. */
function realIo<T extends object>(port: T, clock: VirtualClock): T {
  return new Proxy(port, {
    get: (target, property, receiver) => {
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (...args: unknown[]) => clock.io(() => value.apply(target, args)) : value;
    },
  });
}

/** How the target pool waits for drain and health (see ReleaseHarnessOptions.waitWith). */
export type PoolWaits = 'polling' | 'sdk-waiters';

export interface ReleaseHarnessOptions extends AwsSimulationOptions {
  /**
   * How the target pool waits for drain and health: sluice's own DescribeTargetHealth polling
   * (Elbv2TargetPool), or the SDK v3 waiters (Elbv2WaiterTargetPool, a benchmark baseline only).
   * With the waiters, the global timers run on the virtual clock until restore().
   * @default 'polling'
   */
  readonly waitWith?: PoolWaits;
}

/** A simulated stage (AWS control planes in virtual time) with the release table on dynalite. */
export class ReleaseHarness {
  readonly sim: AwsSimulation;
  private readonly tableName: string;
  private readonly dynamo: LocalDynamoDb;
  private readonly waitWith: PoolWaits;
  private readonly restoreGlobalTimers: () => void;

  private constructor(sim: AwsSimulation, dynamo: LocalDynamoDb, tableName: string, waitWith: PoolWaits) {
    this.sim = sim;
    this.dynamo = dynamo;
    this.tableName = tableName;
    this.waitWith = waitWith;
    // The waiters sleep with the global setTimeout; in real time one release would take minutes.
    this.restoreGlobalTimers = waitWith === 'sdk-waiters' ? routeGlobalTimersTo(sim.clock) : () => undefined;
  }

  static async create(dynamo: LocalDynamoDb, { waitWith = 'polling', ...options }: ReleaseHarnessOptions = {}): Promise<ReleaseHarness> {
    // Before the timers are routed: dynalite creates tables on its own (real) timers.
    const tableName = await dynamo.createReleaseTable();
    return new ReleaseHarness(createAwsSimulation(options), dynamo, tableName, waitWith);
  }

  /** The real AWS adapters, talking to the simulation; with `killSwitch`, a process that can be killed. */
  ports(killSwitch?: KillSwitch): ReleasePortsWithClock {
    const { clients, clock, names } = this.sim;
    const wrap = <T extends object>(port: T) => (killSwitch ? killSwitch.wrap(port) : port);
    const poolProps = { client: clients.elbv2, targetGroupArn: names.targetGroupArn, clock };
    return {
      pool: wrap(this.waitWith === 'sdk-waiters' ? new Elbv2WaiterTargetPool(poolProps) : new Elbv2TargetPool(poolProps)),
      installer: wrap(new SsmInstaller({ client: clients.ssm, clock })),
      gate: wrap(new CloudWatchAlarmGate({ client: clients.cloudWatch, alarmNames: [names.releaseGateAlarmName], clock })),
      guard: wrap(new AutoScalingInstanceGuard({
        autoScaling: clients.autoScaling,
        ssm: clients.ssm,
        autoScalingGroupName: names.autoScalingGroupName,
        currentVersionParameterName: names.currentVersionParameterName,
        clock,
      })),
      store: wrap(realIo(new DynamoDbReleaseStore({ client: this.dynamo.documentClient, tableName: this.tableName }), clock)),
      clock: wrap(clock),
    };
  }

  engine(props: Partial<ReleaseEngineProps> & { version: string }, killSwitch?: KillSwitch): ReleaseEngine {
    return new ReleaseEngine({ holder: 'test', lockPollMs: 5_000, ...this.ports(killSwitch), ...props });
  }

  /** Healthy ≥ fleet − maxUnavailable, out ≤ maxUnavailable, and no request ever reaches a stopped app. */
  guardCapacity(fleetSize: number, maxUnavailable: number): void {
    this.sim.invariants.add('healthy targets never below the minimum', healthyTargetsAtLeast(Math.max(1, fleetSize - maxUnavailable)));
    this.sim.invariants.add('never more than max-unavailable out', targetsOutOfServiceAtMost(maxUnavailable));
    this.sim.invariants.add('no traffic to a stopped app', noTrafficToStoppedApps());
  }

  /** Every running instance's version. */
  versions(): string[] {
    return Object.values(this.sim.state.versions()).map((version) => version ?? '(none)');
  }

  /** Undoes the client mocks (and the global timer routing of `sdk-waiters`); call it before stopping dynalite. */
  restore(): void {
    this.restoreGlobalTimers();
    this.sim.restore();
  }
}
