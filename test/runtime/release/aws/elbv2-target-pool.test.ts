import { afterEach, describe, expect, it } from 'vitest';
import { AwsCallError } from '../../../../lib/runtime/release/aws/aws-call.ts';
import { Elbv2TargetPool } from '../../../../lib/runtime/release/aws/elbv2-target-pool.ts';
import { SsmInstaller } from '../../../../lib/runtime/release/aws/ssm-installer.ts';
import { DeadlineExceededError, InstallFailedError, TargetUnhealthyError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

const POLL_MS = 1000;
let sim: AwsSimulation;

function setUp(options: AwsSimulationOptions = {}) {
  sim = createAwsSimulation(options);
  const pool = new Elbv2TargetPool({ client: sim.clients.elbv2, targetGroupArn: sim.names.targetGroupArn, clock: sim.clock, pollIntervalMs: POLL_MS });
  const [first] = sim.state.registeredTargets();
  return { pool, targetId: first };
}

/** Takes `targetId` out and waits until it is drained. */
async function drain(pool: Elbv2TargetPool, targetId: string): Promise<void> {
  await sim.run(pool.deregister(targetId));
  await sim.run(pool.waitDrained(targetId));
}

afterEach(() => sim.restore());

describe('Elbv2TargetPool', () => {
  it('reads the timings from the target group', async () => {
    const { pool } = setUp({ targetGroup: { healthCheckIntervalSeconds: 10, healthyThresholdCount: 3, unhealthyThresholdCount: 2, deregistrationDelaySeconds: 45 } });
    expect(await sim.run(pool.timings())).toEqual({ drainMs: 45_000, healthyMs: 30_000, unhealthyMs: 20_000 });
  });

  it('lists every target with its health', async () => {
    const { pool, targetId } = setUp();
    await sim.run(pool.deregister(targetId));
    const targets = await sim.run(pool.listTargets());
    expect(targets).toHaveLength(3);
    expect(targets.find((target) => target.id === targetId)).toMatchObject({ state: 'draining', reasonCode: 'Target.DeregistrationInProgress' });
    expect(targets.filter((target) => target.state === 'healthy')).toHaveLength(2);
  });

  it('drains in the deregistration delay, plus at most one poll', async () => {
    const { pool, targetId } = setUp();
    await sim.run(pool.deregister(targetId));
    const { elapsedMs } = await sim.timed(pool.waitDrained(targetId));
    expect(elapsedMs).toBeGreaterThanOrEqual(30_000);
    expect(elapsedMs).toBeLessThanOrEqual(30_000 + POLL_MS);
    expect(sim.state.targets().map((target) => target.id)).not.toContain(targetId);
  });

  it('treats a target that is not registered as drained (a resumed release repeats the step)', async () => {
    const { pool, targetId } = setUp();
    await drain(pool, targetId);
    await sim.run(pool.deregister(targetId));
    const { elapsedMs } = await sim.timed(pool.waitDrained(targetId));
    expect(elapsedMs).toBe(0);
  });

  it('becomes healthy in healthy threshold × interval, plus at most one poll', async () => {
    const { pool, targetId } = setUp();
    await drain(pool, targetId);
    await sim.run(pool.register(targetId));
    const { elapsedMs } = await sim.timed(pool.waitHealthy(targetId));
    expect(elapsedMs).toBeGreaterThanOrEqual(2 * 5_000);
    expect(elapsedMs).toBeLessThanOrEqual(2 * 5_000 + POLL_MS);
    expect(sim.state.targets().find((target) => target.id === targetId)?.state).toBe('healthy');
  });

  it('reports a version that never turns healthy with the load balancer reason code', async () => {
    const { pool, targetId } = setUp({ badVersions: ['2.0.0'] });
    const installer = new SsmInstaller({ client: sim.clients.ssm, clock: sim.clock });
    await drain(pool, targetId);
    await expect(sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }))).rejects.toBeInstanceOf(InstallFailedError);
    await sim.run(pool.register(targetId));
    const startedAt = sim.clock.now();
    const error = await sim.run(pool.waitHealthy(targetId)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TargetUnhealthyError);
    expect(error).toMatchObject({ targetId, reasonCode: 'Target.ResponseCodeMismatch' });
    // Unhealthy threshold × interval.
    expect(sim.clock.now() - startedAt).toBeLessThanOrEqual(3 * 5_000 + POLL_MS);
  });

  it('gives up past its deadline with the last state', async () => {
    const { pool, targetId } = setUp({ targetGroup: { registrationDelaySeconds: 600 } });
    await drain(pool, targetId);
    await sim.run(pool.register(targetId));
    const startedAt = sim.clock.now();
    const error = await sim.run(pool.waitHealthy(targetId)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({ targetId, step: 'becoming healthy', lastState: 'initial (Elb.RegistrationInProgress)' });
    // max(healthy, unhealthy) + max(30 s, healthy) = 15 s + 30 s.
    expect(sim.clock.now() - startedAt).toBe(45_000);
  });

  it('fails at once when the instance is terminated while it is waited for', async () => {
    const { pool, targetId } = setUp({ autoScaling: { reactionMs: 60_000 } });
    await drain(pool, targetId);
    await sim.run(pool.register(targetId));
    sim.faults.terminateInstanceAt(targetId, sim.clock.now() + 3_000);
    await expect(sim.run(pool.waitHealthy(targetId))).rejects.toMatchObject({ name: 'TargetUnhealthyError', reasonCode: 'Target.InvalidState' });
  });

  it('retries throttled calls and still times drain and health correctly', async () => {
    const { pool, targetId } = setUp();
    sim.faults.throttle({ fraction: 0.4, seed: 7, services: ['elbv2'] });
    await sim.run(pool.deregister(targetId));
    const drained = await sim.timed(pool.waitDrained(targetId));
    await sim.run(pool.register(targetId));
    const healthy = await sim.timed(pool.waitHealthy(targetId));

    expect(sim.state.calls.filter((call) => call.error === 'Throttling').length).toBeGreaterThan(5);
    expect(sim.state.targets().find((target) => target.id === targetId)?.state).toBe('healthy');
    // Back-off can push the poll that sees the change later, by a few seconds at most.
    expect(drained.elapsedMs).toBeGreaterThanOrEqual(30_000);
    expect(drained.elapsedMs).toBeLessThanOrEqual(30_000 + 5_000);
    expect(healthy.elapsedMs).toBeGreaterThanOrEqual(10_000);
    expect(healthy.elapsedMs).toBeLessThanOrEqual(10_000 + 5_000);
  });

  it('stops retrying a call that keeps being throttled and says so', async () => {
    const { pool } = setUp();
    sim.faults.failNextCalls(100, { operations: ['DescribeTargetHealth'] });
    const error = await sim.run(pool.listTargets()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as Error).message).toMatch(/^DescribeTargetHealth for every target in arn:.* failed: Throttling: Rate exceeded; still failing after 8 attempts/);
  });

  it('a health read throttled through all its retries does not end the wait: the deadline does', async () => {
    const { pool, targetId } = setUp();
    await drain(pool, targetId);
    await sim.run(pool.register(targetId));
    // 8 attempts of one read (about 23 s of back-off), then one more: well within the 40 s the wait allows.
    sim.faults.failNextCalls(9, { operations: ['DescribeTargetHealth'] });
    await sim.run(pool.waitHealthy(targetId));
    expect(sim.state.targets().find((target) => target.id === targetId)?.state).toBe('healthy');
  });

  it('a health wait still throttled at its deadline fails with the throttling error', async () => {
    const { pool, targetId } = setUp();
    await drain(pool, targetId);
    await sim.run(pool.register(targetId));
    sim.faults.failNextCalls(1_000, { operations: ['DescribeTargetHealth'] });
    const error = await sim.run(pool.waitHealthy(targetId)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as Error).message).toMatch(/still failing after 8 attempts/);
  });

  it('retries server errors too', async () => {
    const { pool, targetId } = setUp();
    sim.faults.failNextCalls(3, { operations: ['DeregisterTargets'] }, 'server-error');
    await sim.run(pool.deregister(targetId));
    expect(sim.state.targets().find((target) => target.id === targetId)?.state).toBe('draining');
  });

  it('explains an error retrying cannot fix', async () => {
    setUp();
    const pool = new Elbv2TargetPool({ client: sim.clients.elbv2, targetGroupArn: `${sim.names.targetGroupArn}0`, clock: sim.clock });
    await expect(sim.run(pool.timings())).rejects.toThrow(
      /DescribeTargetGroups for the target group in arn:\S+ failed: TargetGroupNotFoundException: One or more target groups not found; check the target group ARN \(stack output TargetGroupArn\)/,
    );
  });

  it('stops waiting when aborted', async () => {
    const { pool, targetId } = setUp();
    await sim.run(pool.deregister(targetId));
    const controller = new AbortController();
    const startedAt = sim.clock.now();
    sim.clock.at(startedAt + 5_000, () => controller.abort(new Error('interrupted')));
    await expect(sim.run(pool.waitDrained(targetId, controller.signal))).rejects.toThrow('interrupted');
    expect(sim.clock.now() - startedAt).toBe(5_000);
  });
});
