import type { InstanceSnapshot } from './simulation-log.ts';
import type { SimulationContext } from './simulation-context.ts';
import { randomHex } from './seeded-random.ts';

export type Lifecycle = 'Pending' | 'InService' | 'Terminating' | 'Terminated';

export interface SimulatedInstance {
  readonly id: string;
  readonly availabilityZone: string;
  readonly launchedAt: number;
  version: string | undefined;
  running: boolean;
  appUp: boolean;
  lifecycle: Lifecycle;
}

/** What the load balancer's health check gets from an instance's app. */
export type HealthCheckAnswer = 'ok' | 'error-status' | 'connection-refused';

/** The EC2 instances of the app tier and the app running on each. */
export class Fleet {
  private readonly instances = new Map<string, SimulatedInstance>();

  constructor(
    private readonly context: SimulationContext,
    /** Versions whose app starts but never passes its health check. */
    readonly badVersions: Set<string>,
    /** Versions whose app listens on 127.0.0.1 only: its own check passes, the load balancer's is refused. */
    readonly loopbackOnlyVersions: ReadonlySet<string> = new Set(),
  ) {}

  /** `i-` and 17 hex digits, like EC2's, from the seeded random source. */
  launch(options: {
    readonly version: string | undefined;
    readonly appUp: boolean;
    readonly lifecycle: Lifecycle;
    readonly availabilityZone: string;
    readonly launchedAt?: number;
  }): SimulatedInstance {
    const id = `i-${randomHex(this.context.random, 17)}`;
    const instance: SimulatedInstance = {
      id,
      availabilityZone: options.availabilityZone,
      launchedAt: options.launchedAt ?? this.context.clock.now(),
      version: options.version,
      running: true,
      appUp: options.appUp,
      lifecycle: options.lifecycle,
    };
    this.instances.set(id, instance);
    this.context.log.record('instance', id, `launched in ${options.availabilityZone} (${options.version ?? 'no version'}, ${options.lifecycle})`);
    return instance;
  }

  get(id: string): SimulatedInstance | undefined {
    return this.instances.get(id);
  }

  all(): SimulatedInstance[] {
    return [...this.instances.values()];
  }

  setVersion(id: string, version: string | undefined): void {
    const instance = this.require(id);
    if (instance.version === version) return;
    this.context.log.record('instance', id, `version ${instance.version ?? 'none'} → ${version ?? 'none'}`);
    instance.version = version;
  }

  setAppUp(id: string, up: boolean): void {
    const instance = this.require(id);
    if (instance.appUp === up || !instance.running) return;
    instance.appUp = up;
    this.context.log.record('instance', id, up ? `app up (${instance.version ?? 'no version'})` : 'app stopped');
  }

  setLifecycle(id: string, lifecycle: Lifecycle): void {
    const instance = this.require(id);
    if (instance.lifecycle === lifecycle) return;
    instance.lifecycle = lifecycle;
    this.context.log.record('instance', id, `lifecycle ${lifecycle}`);
  }

  terminate(id: string): void {
    const instance = this.require(id);
    if (!instance.running) return;
    instance.running = false;
    instance.appUp = false;
    instance.lifecycle = 'Terminated';
    this.context.log.record('instance', id, 'terminated');
  }

  /** The app's health check as the instance itself sees it (on 127.0.0.1). */
  healthCheck(id: string): HealthCheckAnswer {
    const instance = this.instances.get(id);
    if (!instance?.running || !instance.appUp || instance.version === undefined) return 'connection-refused';
    return this.badVersions.has(instance.version) ? 'error-status' : 'ok';
  }

  /** The same check from the load balancer, over the instance's own address. */
  loadBalancerHealthCheck(id: string): HealthCheckAnswer {
    const version = this.instances.get(id)?.version;
    return version !== undefined && this.loopbackOnlyVersions.has(version) ? 'connection-refused' : this.healthCheck(id);
  }

  snapshot(): InstanceSnapshot[] {
    return this.all().map((instance) => ({
      id: instance.id,
      availabilityZone: instance.availabilityZone,
      version: instance.version,
      running: instance.running,
      appUp: instance.appUp,
      appHealthy: this.healthCheck(instance.id) === 'ok',
      lifecycle: instance.lifecycle,
    }));
  }

  private require(id: string): SimulatedInstance {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`simulation: no instance ${id}`);
    return instance;
  }
}
