import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CapacityError } from '../../../lib/runtime/release/errors.ts';
import type { ReleaseResult } from '../../../lib/runtime/release/release-engine.ts';
import { type LocalDynamoDb, startDynalite } from '../../helpers/dynalite.ts';
import { KillSwitch, ReleaseHarness } from '../../helpers/release-harness.ts';

// Scenario tests: the real engine and the real AWS adapters against the simulated control planes
// (virtual time) and the release table on dynalite. The property tests cover the interleavings.

let dynamo: LocalDynamoDb;
let harness: ReleaseHarness | undefined;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});
afterEach(() => {
  harness?.restore();
  harness = undefined;
});

async function stage(options: Parameters<typeof ReleaseHarness.create>[1]): Promise<ReleaseHarness> {
  harness = await ReleaseHarness.create(dynamo, options);
  return harness;
}

function stepsOf(result: ReleaseResult, targetId: string): string[] {
  return result.targets.filter((target) => target.targetId === targetId).flatMap((target) => target.steps.map((step) => step.step));
}

describe('ReleaseEngine', () => {
  it('moves every target to the new version, one at a time, never below the minimum', async () => {
    const h = await stage({ instances: 4, targetGroup: { deregistrationDelaySeconds: 10 } });
    h.guardCapacity(4, 1);
    const engine = h.engine({ version: '2.0.0' });
    const { value: result, elapsedMs } = await h.sim.timed(engine.run());

    expect(result.outcome).toBe('succeeded');
    expect(h.versions()).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(4);
    expect(h.sim.state.targets().every((target) => target.state === 'healthy')).toBe(true);
    expect(h.sim.state.launchVersion()).toBe('2.0.0');
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
    const [first] = result.targets;
    expect(stepsOf(result, first.targetId)).toEqual(['preflight', 'deregistering', 'draining', 'installing', 'verifying', 'registering', 'waiting-healthy']);
    // drain 10 s + install 20 s + healthy 2 × 5 s, per target, plus polling slack.
    expect(elapsedMs).toBeGreaterThanOrEqual(4 * 40_000);
    expect(elapsedMs).toBeLessThan(4 * 40_000 * 1.1);
    expect(await engine.run()).toBe(result);
  });

  it('skips targets already on the version, so a rerun changes nothing', async () => {
    const h = await stage({ instances: 3 });
    await h.sim.run(h.engine({ version: '2.0.0' }).run());
    const callsBefore = h.sim.state.calls.filter((call) => call.operation === 'DeregisterTargets').length;
    const rerun = await h.sim.run(h.engine({ version: '2.0.0' }).run());
    expect(rerun.outcome).toBe('succeeded');
    expect(rerun.targets.map((target) => target.outcome)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(h.sim.state.calls.filter((call) => call.operation === 'DeregisterTargets').length).toBe(callsBefore);
  });

  it('rolls back when the new version never turns healthy, naming target, step and reason', async () => {
    const h = await stage({ instances: 3, badVersions: ['2.0.0-bad'] });
    h.guardCapacity(3, 1);
    const result = await h.sim.run(h.engine({ version: '2.0.0-bad' }).run());
    expect(result.outcome).toBe('rolled-back');
    expect(result.failure).toMatchObject({ targetId: expect.stringMatching(/^i-/), reasonCode: expect.stringMatching(/Install\.ExitCode4|Target\./) });
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
    expect(h.sim.state.launchVersion()).toBe('1.0.0');
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
    expect(result.targets.filter((target) => target.direction === 'rollback')).toHaveLength(1);
  });

  it('rolls back every moved target when an alarm fires on the new version', async () => {
    const h = await stage({ instances: 4 });
    h.guardCapacity(4, 1);
    h.sim.faults.alarmWhileServing(h.sim.names.releaseGateAlarmName, '2.0.0');
    const result = await h.sim.run(h.engine({ version: '2.0.0' }).run());
    expect(result.outcome).toBe('rolled-back');
    expect(result.failure).toMatchObject({ reasonCode: 'AlarmFiring', step: 'waiting-healthy' });
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.firingAlarms()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
  });

  it('rolls back after an install failure, with the tail of the installer output', async () => {
    const h = await stage({ instances: 3 });
    const [, second] = Object.keys(h.sim.state.versions());
    h.sim.faults.failInstall(second, '2.0.0', { exitCode: 3, output: 'download failed: 403 Forbidden' });
    const result = await h.sim.run(h.engine({ version: '2.0.0' }).run());
    expect(result.outcome).toBe('rolled-back');
    expect(result.failure?.targetId).toBe(second);
    expect(result.failure?.step).toBe('installing');
    expect(result.failure?.message).toContain('403 Forbidden');
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
  });

  it('refuses to take out the only target of a one-instance fleet, touching nothing', async () => {
    const h = await stage({ instances: 1 });
    await expect(h.sim.run(h.engine({ version: '2.0.0' }).run())).rejects.toBeInstanceOf(CapacityError);
    expect(h.versions()).toEqual(['1.0.0']);
    expect(h.sim.state.calls.some((call) => call.operation === 'DeregisterTargets')).toBe(false);
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
  });

  it('moves max-unavailable targets at once, and no more', async () => {
    const h = await stage({ instances: 6 });
    h.guardCapacity(6, 2);
    const { value: result, elapsedMs } = await h.sim.timed(h.engine({ version: '2.0.0', maxUnavailable: 2 }).run());
    expect(result.outcome).toBe('succeeded');
    expect(h.sim.invariants.violations).toEqual([]);
    // Three waves of two, not six one by one.
    expect(elapsedMs).toBeLessThan(4 * 60_000);
  });

  it('serialises concurrent releases with the lock; --supersede makes the older one give up', async () => {
    const h = await stage({ instances: 3 });
    const older = h.engine({ version: '2.0.0', holder: 'ci-1', requestedAt: h.sim.clock.now(), supersede: true });
    const newer = h.engine({ version: '3.0.0', holder: 'ci-2', requestedAt: h.sim.clock.now() + 1, supersede: true });
    const [first, second] = await h.sim.run(Promise.all([older.run(), newer.run()]));
    const outcomes = [first.outcome, second.outcome].sort();
    // Whichever got the lock first ran; the older one never rolls the newer back.
    expect(outcomes).toContain('succeeded');
    expect(h.versions()).toEqual(['3.0.0', '3.0.0', '3.0.0']);
  });

  it('repairs what a killed release left out of the load balancer, then completes', async () => {
    const h = await stage({ instances: 3 });
    const killSwitch = new KillSwitch();
    const doomed = h.engine({ version: '2.0.0', lockTtlMs: 30_000 }, killSwitch);
    doomed.on('step-started', ({ step }) => {
      if (step === 'installing') killSwitch.kill();
    });
    void doomed.run();
    // Let it run until it has been killed mid-install.
    await h.sim.run(new Promise<void>((resolve) => doomed.on('step-started', ({ step }) => step === 'installing' && resolve())));
    await h.sim.run(h.sim.clock.sleep(1_000));
    expect(h.sim.state.registeredTargets()).toHaveLength(2);

    const rerun = await h.sim.run(h.engine({ version: '2.0.0', lockTtlMs: 30_000 }).run());
    expect(rerun.outcome).toBe('succeeded');
    expect(h.versions()).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
  });

  it('stops on request: the target in flight goes back on its previous version, finished ones stay', async () => {
    const h = await stage({ instances: 4 });
    h.guardCapacity(4, 1);
    const engine = h.engine({ version: '2.0.0' });
    let done = 0;
    engine.on('target-done', () => {
      done += 1;
    });
    engine.on('step-started', ({ step }) => {
      if (done === 1 && step === 'installing') engine.stop();
    });
    const result = await h.sim.run(engine.run());
    expect(result.outcome).toBe('aborted');
    expect(h.versions().sort()).toEqual(['1.0.0', '1.0.0', '1.0.0', '2.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(4);
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
  });

  it('skips an instance terminated mid-release; its replacement boots the new version', async () => {
    const h = await stage({ instances: 4 });
    const ids = Object.keys(h.sim.state.versions());
    h.sim.faults.terminateInstanceAt(ids[3], h.sim.clock.now() + 45_000);
    const engine = h.engine({ version: '2.0.0' });
    const result = await h.sim.run(engine.run());
    expect(result.outcome).toBe('succeeded');
    const running = h.sim.state.versions();
    expect(Object.keys(running)).not.toContain(ids[3]);
    expect(Object.values(running).every((version) => version === '2.0.0')).toBe(true);
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
  });
});
