import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MaxUnavailable, resolveCapacity } from '../../../lib/runtime/release/capacity.ts';
import { AwsCallError } from '../../../lib/runtime/release/aws/aws-call.ts';
import { CapacityError } from '../../../lib/runtime/release/errors.ts';
import type { ReleaseEngine, ReleaseResult } from '../../../lib/runtime/release/release-engine.ts';
import type { AwsSimulation } from '../../helpers/aws-simulation/create-aws-simulation.ts';
import { noTrafficToStoppedApps } from '../../helpers/aws-simulation/invariants.ts';
import { type LocalDynamoDb, startDynalite } from '../../helpers/dynalite.ts';
import { KillSwitch, ReleaseHarness } from '../../helpers/release-harness.ts';

// Property: whatever the fleet, the timings, max-unavailable, the bake and the fault injected at any
// step, at every simulated instant capacity holds, no target is taken out or declared done while the
// release gate is in ALARM, a release that saw the gate in ALARM rolls back, and at the end the fleet
// is whole, on one version, with the lock released and the Auto Scaling processes resumed.

type Fault =
  | { readonly kind: 'none' }
  | { readonly kind: 'install-fails'; readonly target: number }
  | { readonly kind: 'bad-version' }
  /** The gate goes into ALARM (whatever the cause) for two minutes. */
  | { readonly kind: 'alarm-fires'; readonly afterMs: number }
  /** The new version passes every health check but serves errors: the gate's metric breaches while it serves, and the gate follows minutes later. */
  | { readonly kind: 'harmful-version' }
  | { readonly kind: 'killed'; readonly afterSteps: number }
  | { readonly kind: 'concurrent-release'; readonly afterMs: number }
  | { readonly kind: 'instance-terminated'; readonly target: number; readonly afterMs: number };

interface Scenario {
  readonly fleetSize: number;
  readonly maxUnavailable: MaxUnavailable;
  readonly drainSeconds: number;
  readonly intervalSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly installSeconds: number;
  /** --bake: 3 minutes covers the gate's lag (two bad one-minute datapoints, not aligned to the target). */
  readonly bakeSeconds: number;
  readonly fault: Fault;
  /** Share of AWS API calls answered with a throttling error, on top of the fault. */
  readonly throttled: number;
  readonly seed: number;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  fleetSize: fc.integer({ min: 1, max: 12 }),
  maxUnavailable: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constantFrom<MaxUnavailable>('25%', '50%')),
  drainSeconds: fc.integer({ min: 0, max: 60 }),
  intervalSeconds: fc.constantFrom(5, 10, 30),
  healthyThreshold: fc.integer({ min: 2, max: 5 }),
  unhealthyThreshold: fc.integer({ min: 2, max: 5 }),
  installSeconds: fc.integer({ min: 5, max: 60 }),
  bakeSeconds: fc.constantFrom(0, 0, 180),
  fault: fc.oneof(
    fc.constant<Fault>({ kind: 'none' }),
    fc.record({ kind: fc.constant('install-fails' as const), target: fc.nat(11) }),
    fc.constant<Fault>({ kind: 'bad-version' }),
    fc.record({ kind: fc.constant('alarm-fires' as const), afterMs: fc.integer({ min: 0, max: 600_000 }) }),
    fc.constant<Fault>({ kind: 'harmful-version' }),
    fc.record({ kind: fc.constant('killed' as const), afterSteps: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ kind: fc.constant('concurrent-release' as const), afterMs: fc.integer({ min: 0, max: 300_000 }) }),
    fc.record({ kind: fc.constant('instance-terminated' as const), target: fc.nat(11), afterMs: fc.integer({ min: 0, max: 600_000 }) }),
  ),
  throttled: fc.constantFrom(0, 0, 0.05, 0.2),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

let dynamo: LocalDynamoDb;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function check(s: Scenario): Promise<void> {
  const h = await ReleaseHarness.create(dynamo, {
    seed: s.seed,
    instances: s.fleetSize,
    badVersions: s.fault.kind === 'bad-version' ? ['2.0.0'] : [],
    targetGroup: {
      deregistrationDelaySeconds: s.drainSeconds,
      healthCheckIntervalSeconds: s.intervalSeconds,
      healthyThresholdCount: s.healthyThreshold,
      unhealthyThresholdCount: s.unhealthyThreshold,
    },
    runCommand: { installDurationMs: s.installSeconds * 1000 },
  });
  try {
    const { sim } = h;
    const start = sim.clock.now();
    const ids = Object.keys(sim.state.versions());
    const rules = resolveCapacity(s.fleetSize, s.maxUnavailable);
    let releasing = true;
    let terminated = 0;

    // --- invariants, at every simulated instant while a release runs --------------------------
    sim.invariants.add('healthy targets never below the minimum', (snapshot) => {
      if (!releasing) return undefined;
      const healthy = snapshot.targets.filter((target) => target.state === 'healthy').length;
      // An instance terminated by the fault is capacity lost to the fault, not to the release.
      const floor = Math.min(rules.minHealthy, s.fleetSize) - terminated;
      return healthy < floor ? `${healthy} healthy, fewer than ${floor}` : undefined;
    });
    // Out = serving instances that stopped serving. An instance the group launched mid-release that
    // has not served yet was never taken out by the release.
    const served = new Set(ids);
    sim.invariants.add('never more than max-unavailable out', (snapshot) => {
      for (const target of snapshot.targets) if (target.state === 'healthy') served.add(target.id);
      if (!releasing) return undefined;
      const out = snapshot.instances.filter((instance) => instance.running && served.has(instance.id) && snapshot.targets.find((target) => target.id === instance.id)?.state !== 'healthy');
      return out.length > rules.maxUnavailable ? `${out.length} out (${out.map((instance) => instance.id).join(', ')}), more than ${rules.maxUnavailable}` : undefined;
    });
    sim.invariants.add('no traffic to a stopped app', noTrafficToStoppedApps());

    // --- the gate, at the instants a release passes a target's preflight or declares it done -------
    const gate = sim.names.releaseGateAlarmName;
    const passedWhileFiring: string[] = [];
    const watchGate = (engine: ReleaseEngine) => {
      engine.on('step', ({ targetId, step, direction, startedAt, durationMs }) => {
        if (step === 'preflight' && direction === 'release' && gateAt(sim, gate, startedAt + durationMs) === 'firing') passedWhileFiring.push(`${targetId} started`);
      });
      engine.on('target-done', ({ targetId, direction }) => {
        if (direction === 'release' && gateAt(sim, gate, sim.clock.now()) === 'firing') passedWhileFiring.push(`${targetId} done`);
      });
      return engine;
    };

    // --- the fault ------------------------------------------------------------------------------
    if (s.throttled > 0) sim.faults.throttle({ fraction: s.throttled, seed: s.seed });
    const fault = s.fault;
    if (fault.kind === 'install-fails') sim.faults.failInstall(ids[fault.target % ids.length], '2.0.0', { exitCode: 4 });
    if (fault.kind === 'alarm-fires') sim.faults.fireAlarmAt(gate, start + fault.afterMs, start + fault.afterMs + 120_000);
    if (fault.kind === 'harmful-version') sim.faults.alarmWhileServing(gate, '2.0.0');
    if (fault.kind === 'instance-terminated' && ids.length > 1) {
      sim.clock.at(start + fault.afterMs, () => {
        terminated += 1;
      });
      sim.faults.terminateInstanceAt(ids[fault.target % ids.length], start + fault.afterMs);
    }

    const killSwitch = fault.kind === 'killed' ? new KillSwitch() : undefined;
    const bakeMs = s.bakeSeconds * 1000;
    const first = watchGate(h.engine({ version: '2.0.0', maxUnavailable: s.maxUnavailable, bakeMs, lockTtlMs: 30_000, lockWaitMs: 6 * 3_600_000 }, killSwitch));
    let steps = 0;
    first.on('step', () => {
      steps += 1;
      if (fault.kind === 'killed' && steps > fault.afterSteps) killSwitch?.kill();
    });
    const outcomes: Promise<ReleaseResult | Refused>[] = [settle(first.run())];
    if (fault.kind === 'concurrent-release') {
      const second = watchGate(h.engine({ version: '3.0.0', holder: 'ci-2', requestedAt: start + 1, maxUnavailable: s.maxUnavailable, bakeMs, lockWaitMs: 6 * 3_600_000 }));
      outcomes.push(sim.clock.sleep(fault.afterMs).then(() => settle(second.run())));
    }

    let results: (ReleaseResult | Refused)[];
    if (killSwitch) {
      // The first process dies (or finishes); once it is dead, a rerun repairs and completes.
      const died = new Promise<void>((resolve) => first.on('step', () => killSwitch.killed && resolve()));
      const finished = await sim.run(Promise.race([outcomes[0].then(() => 'finished' as const), died.then(() => 'killed' as const)]));
      const rerun = watchGate(h.engine({ version: '2.0.0', maxUnavailable: s.maxUnavailable, bakeMs, lockTtlMs: 30_000, lockWaitMs: 6 * 3_600_000 }));
      results = finished === 'finished' ? [await outcomes[0], await sim.run(settle(rerun.run()))] : [await sim.run(settle(rerun.run()))];
    } else {
      results = await sim.run(Promise.all(outcomes));
    }
    releasing = false;

    // --- at the end ----------------------------------------------------------------------------
    expect(sim.invariants.violations).toEqual([]);
    expect(passedWhileFiring).toEqual([]);
    const running = Object.entries(sim.state.versions());
    const versions = new Set(running.map(([, version]) => version));
    expect(versions.size).toBe(1);
    const [finalVersion] = versions;
    const registered = sim.state.registeredTargets();
    for (const [id] of running) expect(registered).toContain(id);
    expect(sim.state.suspendedProcesses()).toEqual([]);
    expect(await h.ports().store.readLock()).toBeUndefined();

    const releases = results.filter((result): result is ReleaseResult => !(result instanceof Error));
    if (s.fleetSize === 1 || results.every((result) => result instanceof Error)) {
      expect(finalVersion).toBe('1.0.0');
      return;
    }
    const last = releases.reduce((latest, result) => (result.finishedAt >= latest.finishedAt ? result : latest));
    if (last.outcome === 'succeeded') expect(finalVersion).toBe(last.version);
    else expect(last.outcome).toBe('rolled-back');
    if (last.outcome === 'rolled-back') expect(finalVersion).toBe(last.previousVersion);
    expect(sim.state.launchVersion()).toBe(finalVersion);
    if (fault.kind === 'none' || fault.kind === 'killed' || fault.kind === 'concurrent-release') expect(last.outcome).toBe('succeeded');
    if (fault.kind === 'bad-version') expect(last.outcome).toBe('rolled-back');
    if (fault.kind === 'alarm-fires' || fault.kind === 'harmful-version') {
      // The gate is the only fault: a release that read it in ALARM rolls back for it; one that never did succeeds.
      const reads = sim.state.calls.filter((call) => call.operation === 'DescribeAlarms' && !call.error).map((call) => gateAt(sim, gate, call.at));
      if (reads.includes('firing')) {
        alarmsSeen += 1;
        expect(last).toMatchObject({ outcome: 'rolled-back', failure: { reasonCode: 'AlarmFiring' } });
      } else if (reads.includes('tie') && last.outcome === 'rolled-back') {
        // A read at the very instant the gate changed may see either state (found with seed -1086428105).
        alarmsSeen += 1;
        expect(last).toMatchObject({ failure: { reasonCode: 'AlarmFiring' } });
      } else {
        expect(last.outcome).toBe('succeeded');
      }
    }
  } finally {
    h.restore();
  }
}

/**
 * The gate as a read at `at` finds it: `firing` when it was in ALARM already before, `tie` when it
 * changed at that very instant (a read may see either state), `ok` otherwise.
 */
function gateAt(sim: AwsSimulation, gate: string, at: number): 'firing' | 'tie' | 'ok' {
  let state = 'OK';
  let since = Number.NEGATIVE_INFINITY;
  let changedAtThisInstant = false;
  for (const event of sim.state.events) {
    if (event.at > at) break;
    if (event.kind === 'alarm' && event.subject === gate) {
      changedAtThisInstant = event.at === at;
      state = event.description;
      since = event.at;
    }
  }
  if (changedAtThisInstant) return 'tie';
  return state === 'ALARM' && since < at ? 'firing' : 'ok';
}

/** Runs whose release read the gate in ALARM (the examples guarantee some, whatever numRuns). */
let alarmsSeen = 0;

/**
 * A release that ends without a result: refused for capacity, or given up on a read throttled past its
 * retries before it changed anything (found with seed -203117449: GetParameter of the current version
 * throttled 8 times in the plan). Either way the checks at the end must find the fleet whole and untouched.
 */
type Refused = CapacityError | AwsCallError;

function settle(run: Promise<ReleaseResult>): Promise<ReleaseResult | Refused> {
  return run.catch((error: unknown) => {
    if (error instanceof CapacityError) return error;
    if (error instanceof AwsCallError && error.awsCode === 'ThrottlingException') return error;
    throw error;
  });
}

// SLUICE_PROPERTY_RUNS=1000 for a longer search; SLUICE_PROPERTY_SEED to replay a failure.
const numRuns = Number(process.env.SLUICE_PROPERTY_RUNS ?? 60);

const base = { drainSeconds: 10, intervalSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3, installSeconds: 20, throttled: 0, seed: 7 } as const;
/** Cases where the gate is seen in ALARM: during the first target's bake, and at a target's alarm check. */
const alarmExamples: [Scenario][] = [
  [{ ...base, fleetSize: 3, maxUnavailable: 1, bakeSeconds: 180, fault: { kind: 'harmful-version' } }],
  [{ ...base, fleetSize: 4, maxUnavailable: 1, bakeSeconds: 0, fault: { kind: 'alarm-fires', afterMs: 30_000 } }],
];

/**
 * Found by the search. Killed at its first step, after it pointed new instances at 2.0.0: the rerun
 * repaired, gave up on a health read throttled 8 times and rolled back, reporting 2.0.0 as the version
 * it went back to. Alarm: the rollback gave up on a drain read throttled 8 times, leaving two versions.
 */
const foundExamples: [Scenario][] = [
  [{ fleetSize: 10, maxUnavailable: 3, drainSeconds: 0, intervalSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2, installSeconds: 14, bakeSeconds: 0, fault: { kind: 'killed', afterSteps: 0 }, throttled: 0.2, seed: 11 }],
  [{ fleetSize: 8, maxUnavailable: '25%', drainSeconds: 39, intervalSeconds: 10, healthyThreshold: 4, unhealthyThreshold: 2, installSeconds: 5, bakeSeconds: 0, fault: { kind: 'alarm-fires', afterMs: 259_801 }, throttled: 0.2, seed: 683_720 }],
  // The gate turned ALARM at the very instant of a read, which saw it (a tie, either outcome is right).
  [{ fleetSize: 2, maxUnavailable: '25%', drainSeconds: 45, intervalSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2, installSeconds: 33, bakeSeconds: 0, fault: { kind: 'harmful-version' }, throttled: 0, seed: 1 }],
];

describe('ReleaseEngine under faults (property)', () => {
  it('keeps capacity at every instant, heeds the gate, and ends whole, on one version, unlocked and resumed', async () => {
    const seed = process.env.SLUICE_PROPERTY_SEED ? Number(process.env.SLUICE_PROPERTY_SEED) : undefined;
    await fc.assert(fc.asyncProperty(scenario, check), { numRuns, seed, examples: [...alarmExamples, ...foundExamples] });
    expect(alarmsSeen).toBeGreaterThanOrEqual(Math.min(numRuns, alarmExamples.length));
  }, 5_000 + numRuns * 2_000);
});
