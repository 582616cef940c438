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

const ZONES = ['us-east-1a', 'us-east-1b'];

/** The EC2 instances of the app tier and the app running on each. */
export class Fleet {
  private readonly instances = new Map<string, SimulatedInstance>();

  constructor(
    private readonly context: SimulationContext,
    /** Versions whose app starts but never passes its health check. */
    readonly badVersions: Set<string>,
  ) {}

  /** `i-` and 17 hex digits, like EC2's, from the seeded random source. */
  launch(options: { readonly version: string | undefined; readonly appUp: boolean; readonly lifecycle: Lifecycle; readonly launchedAt?: number }): SimulatedInstance {
    const id = `i-${randomHex(this.context.random, 17)}`;
    const instance: SimulatedInstance = {
      id,
      availabilityZone: ZONES[this.instances.size % ZONES.length],
      launchedAt: options.launchedAt ?? this.context.clock.now(),
      version: options.version,
      running: true,
      appUp: options.appUp,
      lifecycle: options.lifecycle,
    };
    this.instances.set(id, instance);
    this.context.log.record('instance', id, `launched (${options.version ?? 'no version'}, ${options.lifecycle})`);
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

  healthCheck(id: string): HealthCheckAnswer {
    const instance = this.instances.get(id);
    if (!instance?.running || !instance.appUp || instance.version === undefined) return 'connection-refused';
    return this.badVersions.has(instance.version) ? 'error-status' : 'ok';
  }

  snapshot(): InstanceSnapshot[] {
    return this.all().map((instance) => ({
      id: instance.id,
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
