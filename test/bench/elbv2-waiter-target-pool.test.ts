import { afterEach, describe, expect, it } from 'vitest';
import { Elbv2TargetPool } from '../../lib/runtime/release/aws/elbv2-target-pool.ts';
import { Elbv2WaiterTargetPool } from './elbv2-waiter-target-pool.ts';
import { DeadlineExceededError } from '../../lib/runtime/release/errors.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from '../helpers/aws-simulation/create-aws-simulation.ts';
import { routeGlobalTimersTo } from '../helpers/aws-simulation/global-timers.ts';

let sim: AwsSimulation;
let restoreTimers: () => void;

function setUp(options: AwsSimulationOptions = {}) {
  sim = createAwsSimulation(options);
  restoreTimers = routeGlobalTimersTo(sim.clock);
  const props = { client: sim.clients.elbv2, targetGroupArn: sim.names.targetGroupArn, clock: sim.clock };
  return {
    waiterPool: new Elbv2WaiterTargetPool(props),
    // The user's best: one poll a second (maxDelay's documented floor), as the polling pool does.
    tunedWaiterPool: new Elbv2WaiterTargetPool({ ...props, waiterDelays: { minDelaySeconds: 1, maxDelaySeconds: 1 } }),
    pollingPool: new Elbv2TargetPool(props),
    targets: sim.state.registeredTargets(),
  };
}

/** Virtual time to drain `targetId` and bring it back healthy with `pool`. */
async function cycle(pool: Elbv2TargetPool, targetId: string): Promise<{ drainMs: number; healthyMs: number }> {
  await sim.run(pool.deregister(targetId));
  const drained = await sim.timed(pool.waitDrained(targetId));
  await sim.run(pool.register(targetId));
  const healthy = await sim.timed(pool.waitHealthy(targetId));
  return { drainMs: drained.elapsedMs, healthyMs: healthy.elapsedMs };
}

/** One target cycled by the polling pool, another by `waiters`; every target healthy at the end. */
async function cycleBesidePolling(waiters: 'waiterPool' | 'tunedWaiterPool') {
  const pools = setUp();
  const polling = await cycle(pools.pollingPool, pools.targets[0]);
  const waiter = await cycle(pools[waiters], pools.targets[1]);
  expect(sim.state.targets().filter((target) => target.state === 'healthy')).toHaveLength(3);
  return { polling, waiter };
}

afterEach(() => {
  restoreTimers();
  sim.restore();
});

describe('Elbv2WaiterTargetPool (benchmark baseline)', () => {
  it('gets the same results as the polling pool, later', async () => {
    const { polling, waiter } = await cycleBesidePolling('waiterPool');
    // The waiters' first retry comes 15 s after the first look at the earliest.
    expect(waiter.drainMs).toBeGreaterThanOrEqual(30_000);
    expect(waiter.healthyMs).toBeGreaterThanOrEqual(15_000);
    expect(waiter.drainMs + waiter.healthyMs).toBeGreaterThan(polling.drainMs + polling.healthyMs);
  });

  it('tuned to 1 s delays, is accepted by the SDK and waits within one poll of the polling pool', async () => {
    const { polling, waiter: tuned } = await cycleBesidePolling('tunedWaiterPool');
    // Without the 15 s minimum delay the first retry comes a second after the first look.
    expect(tuned.healthyMs).toBeLessThan(15_000);
    expect(Math.abs(tuned.drainMs - polling.drainMs)).toBeLessThanOrEqual(1_000);
    expect(Math.abs(tuned.healthyMs - polling.healthyMs)).toBeLessThanOrEqual(1_000);
  });

  it('gives up at the same deadline, on the injected clock', async () => {
    const { waiterPool, targets } = setUp({ targetGroup: { registrationDelaySeconds: 600 } });
    await sim.run(waiterPool.deregister(targets[0]));
    await sim.run(waiterPool.waitDrained(targets[0]));
    await sim.run(waiterPool.register(targets[0]));
    const startedAt = sim.clock.now();
    await expect(sim.run(waiterPool.waitHealthy(targets[0]))).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(sim.clock.now() - startedAt).toBe(45_000);
  });
});
