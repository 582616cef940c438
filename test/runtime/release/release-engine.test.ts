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

/** The instances `sluice-install <version>` was sent to, in order. */
function installedOn(h: ReleaseHarness, version: string): string[] {
  return h.sim.state.calls
    .filter((call) => call.operation === 'SendCommand' && !call.error && JSON.stringify(call.input).includes(`sluice-install '${version}'`))
    .map((call) => (call.input as { InstanceIds: string[] }).InstanceIds[0]);
}

/** Every release-gate evaluation of one-minute datapoints is over three minutes after the harm stops. */
const GATE_CLEARS_WITHIN_MS = 3 * 60_000;

/** Releases 2.0.0, a version that passes its health checks but trips the gate's metric while it serves. */
async function releaseHarmfulVersion(instances: number, props: { readonly bakeMs?: number } = {}) {
  const h = await stage({ instances });
  h.guardCapacity(instances, 1);
  h.sim.faults.alarmWhileServing(h.sim.names.releaseGateAlarmName, '2.0.0');
  const result = await h.sim.run(h.engine({ version: '2.0.0', ...props }).run());
  return { h, result };
}

/** A release of 2.0.0 that points new instances at it before it moves a target, then dies at its first step. */
async function releaseKilledAtFirstStep(h: ReleaseHarness): Promise<void> {
  const killSwitch = new KillSwitch();
  const doomed = h.engine({ version: '2.0.0', lockTtlMs: 30_000 }, killSwitch);
  const died = new Promise<void>((resolve) => doomed.on('step', () => {
    killSwitch.kill();
    resolve();
  }));
  void doomed.run();
  await h.sim.run(died);
}

/** Rolled back to `version`: reported, on every one of the 3 instances, and for the ones the group launches from now on. */
function expectRolledBackTo(h: ReleaseHarness, result: ReleaseResult, version: string): void {
  expect(result.outcome).toBe('rolled-back');
  expect(result.previousVersion).toBe(version);
  expect(h.versions()).toEqual([version, version, version]);
  expect(h.sim.state.launchVersion()).toBe(version);
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
    // sluice-install's own health check catches it on the first target, before the load balancer does.
    const [first, ...others] = installedOn(h, '2.0.0-bad');
    expect(others).toEqual([]);
    expect(result.failure).toEqual({
      targetId: first,
      step: 'installing',
      reasonCode: 'Install.ExitCode4',
      message: expect.stringContaining(`installing 2.0.0-bad on ${first} failed (exit code 4: `),
    });
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
    expect(h.sim.state.launchVersion()).toBe('1.0.0');
    expect(h.sim.state.suspendedProcesses()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
    expect(result.targets.filter((target) => target.direction === 'rollback')).toHaveLength(1);
  });

  it('rolls back when the load balancer never sees the new version healthy, with its reason code', async () => {
    // The app answers its own check on 127.0.0.1 but not the load balancer's: only the target group catches it.
    const h = await stage({ instances: 3, loopbackOnlyVersions: ['2.0.0'] });
    h.guardCapacity(3, 1);
    const result = await h.sim.run(h.engine({ version: '2.0.0' }).run());
    expect(result.outcome).toBe('rolled-back');
    const [first, ...others] = installedOn(h, '2.0.0');
    expect(others).toEqual([]);
    expect(result.failure).toMatchObject({ targetId: first, step: 'waiting-healthy', reasonCode: 'Target.FailedHealthChecks' });
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
    expect(h.sim.invariants.violations).toEqual([]);
  });

  it('rolls back every moved target when an alarm fires on the new version', async () => {
    const { h, result } = await releaseHarmfulVersion(4);
    expect(result.outcome).toBe('rolled-back');
    expect(result.failure).toMatchObject({ reasonCode: 'AlarmFiring', step: 'waiting-healthy' });
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    // The gate lags the harm both ways: it clears once enough good minutes have followed the rollback.
    await h.sim.run(h.sim.clock.sleep(GATE_CLEARS_WITHIN_MS));
    expect(h.sim.state.firingAlarms()).toEqual([]);
    expect(h.sim.invariants.violations).toEqual([]);
  });

  // The gate's children alarm on two bad one-minute datapoints of three: a version's harm shows one to
  // two minutes after it starts serving. A two-target release is over before that.
  describe('--bake', () => {
    it('rolls back a version whose alarm fires during the bake, before the next target starts', async () => {
      const { h, result } = await releaseHarmfulVersion(2, { bakeMs: 3 * 60_000 });
      expect(result.outcome).toBe('rolled-back');
      const [first, ...others] = installedOn(h, '2.0.0');
      expect(others).toEqual([]);
      expect(result.failure).toMatchObject({ targetId: first, step: 'baking', reasonCode: 'AlarmFiring' });
      expect(h.versions()).toEqual(['1.0.0', '1.0.0']);
      expect(h.sim.state.launchVersion()).toBe('1.0.0');
      expect(h.sim.invariants.violations).toEqual([]);
    });

    it('without it, the same bad version passes every check and the gate fires after the release', async () => {
      const { h, result } = await releaseHarmfulVersion(2);
      expect(result.outcome).toBe('succeeded');
      expect(h.versions()).toEqual(['2.0.0', '2.0.0']);
      expect(h.sim.state.firingAlarms()).toEqual([]);
      await h.sim.run(h.sim.clock.sleep(2 * 60_000));
      expect(h.sim.state.firingAlarms()).toEqual([h.sim.names.releaseGateAlarmName]);
    });
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

  it('reports a rollback that runs out of capacity as failed, leaving the target it could not move', async () => {
    const h = await stage({ instances: 3 });
    const [done, failing, crashing] = Object.keys(h.sim.state.versions());
    h.sim.faults.failInstall(failing, '2.0.0', { exitCode: 1 });
    const engine = h.engine({ version: '2.0.0', capacityWaitMs: 60_000 });
    // While the second target installs, the third one's app crashes: no capacity left to move the first back.
    engine.on('step-started', ({ targetId, step }) => {
      if (targetId === failing && step === 'installing') h.sim.faults.crashApp(crashing);
    });
    const result = await h.sim.run(engine.run());
    expect(result.outcome).toBe('rollback-failed');
    expect(result.failure).toMatchObject({ targetId: failing, step: 'installing' });
    expect(result.rollbackFailures).toEqual([expect.objectContaining({ reasonCode: 'InsufficientCapacity' })]);
    expect(h.sim.state.versions()).toMatchObject({ [done]: '2.0.0', [failing]: '1.0.0' });
    expect(h.sim.state.registeredTargets()).toContain(failing);
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
    const startedAt = h.sim.clock.now();
    // A release holds the lock; while it runs, an older and then a newer version queue behind it.
    const running = h.engine({ version: '1.5.0', holder: 'ci-0', requestedAt: startedAt });
    const older = h.engine({ version: '2.0.0', holder: 'ci-1', requestedAt: startedAt + 10_000, supersede: true });
    const newer = h.engine({ version: '3.0.0', holder: 'ci-2', requestedAt: startedAt + 20_000, supersede: true });
    let olderTouched = false;
    older.on('step-started', () => {
      olderTouched = true;
    });
    const later = (ms: number, engine: typeof older) => h.sim.clock.sleep(ms).then(() => engine.run());
    const [first, second, third] = await h.sim.run(Promise.all([running.run(), later(10_000, older), later(20_000, newer)]));

    expect(first.outcome).toBe('succeeded');
    // The older one gave up as soon as the newer one queued, without waiting for the lock or touching a target.
    expect(second).toMatchObject({ version: '2.0.0', outcome: 'superseded', supersededBy: '3.0.0', targets: [] });
    expect(second.finishedAt).toBeLessThan(first.finishedAt);
    expect(olderTouched).toBe(false);
    expect(installedOn(h, '2.0.0')).toEqual([]);
    expect(third.outcome).toBe('succeeded');
    // The older one never rolls the newer back.
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

  it('a rerun after a kill that rolls back goes back to the version the fleet ran before the killed release, launch version included', async () => {
    const h = await stage({ instances: 3 });
    const ids = Object.keys(h.sim.state.versions());
    await releaseKilledAtFirstStep(h);
    expect(h.sim.state.launchVersion()).toBe('2.0.0');

    // The rerun fails on its second target and rolls back.
    h.sim.faults.failInstall(ids[1], '2.0.0', { exitCode: 4 });
    const rerun = await h.sim.run(h.engine({ version: '2.0.0', lockTtlMs: 30_000 }).run());
    expectRolledBackTo(h, rerun, '1.0.0');
    expect(h.sim.state.registeredTargets()).toHaveLength(3);
  });

  it('a killed release that never got the fleet to its version: new instances launch the previous version again, even when the rerun cannot start', async () => {
    const h = await stage({ instances: 3 });
    await releaseKilledAtFirstStep(h);
    // Every one of the 3 targets must stay healthy: the rerun repairs, then refuses to take any out.
    const rerun = h.engine({ version: '2.0.0', lockTtlMs: 30_000, minHealthy: 3 });
    await expect(h.sim.run(rerun.run())).rejects.toBeInstanceOf(CapacityError);
    expect(h.versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(h.sim.state.launchVersion()).toBe('1.0.0');
  });

  it('a killed release that got every target to its version before it died counts as released: a failed rerun goes back to it', async () => {
    const h = await stage({ instances: 3 });
    const ids = Object.keys(h.sim.state.versions());
    const killSwitch = new KillSwitch();
    const doomed = h.engine({ version: '2.0.0', lockTtlMs: 30_000 }, killSwitch);
    let done = 0;
    const died = new Promise<void>((resolve) => doomed.on('target-done', () => {
      done += 1;
      if (done < 3) return;
      // Dies before it records the release as finished.
      killSwitch.kill();
      resolve();
    }));
    void doomed.run();
    await h.sim.run(died);
    expect(h.versions()).toEqual(['2.0.0', '2.0.0', '2.0.0']);

    h.sim.faults.failInstall(ids[1], '3.0.0', { exitCode: 4 });
    const rerun = await h.sim.run(h.engine({ version: '3.0.0', lockTtlMs: 30_000 }).run());
    expectRolledBackTo(h, rerun, '2.0.0');
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

    // Resumed, the group replaces the terminated instance (10 s to notice, 60 s to boot, 2 × 5 s healthy).
    await h.sim.run(h.sim.clock.sleep(10_000 + 60_000 + 10_000 + 1_000));
    const [replacement, ...more] = Object.keys(h.sim.state.versions()).filter((id) => !ids.includes(id));
    expect(more).toEqual([]);
    expect(h.sim.state.versions()[replacement]).toBe('2.0.0');
    expect(h.sim.state.targets().find((target) => target.id === replacement)?.state).toBe('healthy');
    expect(Object.keys(h.sim.state.versions())).toHaveLength(4);
  });

  it('holds the Auto Scaling group still for the whole release, and lets it act on what came up once done', async () => {
    const h = await stage({ instances: 4 });
    h.guardCapacity(4, 1);
    const ids = Object.keys(h.sim.state.versions()).sort();
    const now = h.sim.clock.now();
    // Mid-release: a scheduled scale-in, a scale-out alarm, a new zone, and a custom health check's verdict.
    h.sim.faults.scheduleAction({ at: now + 30_000, desiredCapacity: 3 });
    h.sim.faults.scalingAlarm({ at: now + 60_000, until: now + 120_000, adjustment: 1 });
    h.sim.clock.at(now + 90_000, () => h.sim.faults.addAvailabilityZone('us-east-1c'));
    let releasing = true;
    h.sim.invariants.add('the group launches and terminates nothing during the release', (snapshot) => {
      const running = snapshot.instances.filter((instance) => instance.running).map((instance) => instance.id).sort();
      return releasing && running.join() !== ids.join() ? `running: ${running.join(', ')}` : undefined;
    });
    const engine = h.engine({ version: '2.0.0' });
    engine.on('target-done', () => {
      const [, second] = ids;
      if (h.sim.state.versions()[second] === '2.0.0') h.sim.faults.setInstanceHealth(second, 'Unhealthy');
    });
    const result = await h.sim.run(engine.run());
    releasing = false;
    expect(result.outcome).toBe('succeeded');
    expect(h.sim.invariants.violations).toEqual([]);
    expect(h.sim.state.desiredCapacity()).toBe(4);

    // Resumed: the marked instance is replaced and the group spreads over the new zone, all on the new version.
    await h.sim.run(h.sim.clock.sleep(20 * 60_000));
    const after = h.sim.state.instances().filter((instance) => instance.running);
    expect(after.map((instance) => instance.id)).not.toContain(ids[1]);
    expect(after.map((instance) => instance.availabilityZone)).toContain('us-east-1c');
    expect(after).toHaveLength(4);
    expect(after.every((instance) => instance.version === '2.0.0')).toBe(true);
  });
});
