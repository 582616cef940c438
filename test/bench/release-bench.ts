// npm run bench:release — virtual time of a whole rolling release (1.0.0 → 2.0.0) on the AWS
// simulation with tuned settings, against the floor N × (drain + install + healthy): once with
// sluice's own DescribeTargetHealth polling (Elbv2TargetPool) and once, on a fresh simulation in the
// same run, with the SDK v3 waiters (Elbv2WaiterTargetPool) as the baseline. Every run must succeed
// with the whole fleet on 2.0.0 and capacity never below N − 1 healthy, or the bench exits 1.
// Prints one JSON object as its last line.
import { performance } from 'node:perf_hooks';
import type { ReleaseEvents, ReleaseResult } from '../../lib/runtime/release/release-engine.ts';
import { type LocalDynamoDb, startDynalite } from '../helpers/dynalite.ts';
import { type PoolWaits, ReleaseHarness, type ReleaseHarnessOptions } from '../helpers/release-harness.ts';

// --- tuned settings ----------------------------------------------------------------------------
const DRAIN_SECONDS = 10;
const HEALTH_CHECK_INTERVAL_SECONDS = 5;
const HEALTHY_THRESHOLD = 2;
const INSTALL_MS = 20_000;
/** SendCommand → the agent starts the script (the simulation's default). */
const DELIVERY_MS = 1_000;
const FLEET_SIZES = [4, 10] as const;
const GOAL_RATIO = 1.03;
const FROM_VERSION = '1.0.0';
const TO_VERSION = '2.0.0';

const floorPerTargetMs = DRAIN_SECONDS * 1000 + INSTALL_MS + HEALTHY_THRESHOLD * HEALTH_CHECK_INTERVAL_SECONDS * 1000;

const stage: ReleaseHarnessOptions = {
  initialVersion: FROM_VERSION,
  targetGroup: {
    deregistrationDelaySeconds: DRAIN_SECONDS,
    healthCheckIntervalSeconds: HEALTH_CHECK_INTERVAL_SECONDS,
    healthyThresholdCount: HEALTHY_THRESHOLD,
  },
  // The install as the release sees it is the whole SSM command, SendCommand to Success: delivery
  // (Pending) plus the script itself. The script gets what delivery leaves of the 20 s.
  runCommand: { deliveryMs: DELIVERY_MS, installDurationMs: INSTALL_MS - DELIVERY_MS },
  // Every AWS API call takes 20 ms of virtual time, as a real round trip does: polls that ignored
  // their own latency would drift off the floor by that much per poll.
  callLatencyMs: 20,
};

type StepEvent = ReleaseEvents['step'];

interface Run {
  readonly elapsedMs: number;
  readonly wallMs: number;
  readonly result: ReleaseResult;
  readonly steps: StepEvent[];
}

const problems: string[] = [];

async function release(dynamo: LocalDynamoDb, fleetSize: number, waitWith: PoolWaits): Promise<Run> {
  const harness = await ReleaseHarness.create(dynamo, { ...stage, instances: fleetSize, waitWith });
  try {
    harness.guardCapacity(fleetSize, 1);
    const engine = harness.engine({ version: TO_VERSION, holder: 'bench' });
    const steps: StepEvent[] = [];
    engine.on('step', (event) => steps.push(event));
    const wallStart = performance.now();
    const { value: result, elapsedMs } = await harness.sim.timed(engine.run());
    const wallMs = performance.now() - wallStart;

    const label = `N=${fleetSize} ${waitWith}`;
    if (result.outcome !== 'succeeded') problems.push(`${label}: release ${result.outcome}: ${result.failure?.message ?? 'no failure recorded'}`);
    const versions = harness.versions();
    if (versions.length !== fleetSize || versions.some((version) => version !== TO_VERSION)) {
      problems.push(`${label}: expected ${fleetSize} instances on ${TO_VERSION}, found ${versions.join(', ')}`);
    }
    for (const violation of harness.sim.invariants.violations) problems.push(`${label}: ${violation.invariant}: ${violation.description}`);
    return { elapsedMs, wallMs, result, steps };
  } finally {
    harness.restore();
  }
}

// --- reporting ---------------------------------------------------------------------------------

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const round3 = (value: number) => Number(value.toFixed(3));

/** Per-step durations of the first target released. */
function firstTargetSteps(run: Run): string {
  const targetId = run.steps[0]?.targetId;
  const steps = run.steps.filter((event) => event.targetId === targetId);
  return `${targetId}: ${steps.map((event) => `${event.step} ${seconds(event.durationMs)}`).join(', ')}`;
}

/**
 * Splits the run's virtual time into the floor and what comes on top of it: before the first step
 * (lock, plan, installed-version reads), steps beyond drain + install + healthy, and the gaps between
 * one target's last step and the next one's first (alarm check, journal, capacity view) plus the end.
 */
function overhead(run: Run, fleetSize: number): string {
  const { startedAt } = run.result;
  const stepsMs = run.steps.reduce((sum, event) => sum + event.durationMs, 0);
  const beforeMs = Math.min(...run.steps.map((event) => event.startedAt)) - startedAt;
  const betweenMs = run.elapsedMs - beforeMs - stepsMs;
  return [
    `before the first step ${seconds(beforeMs)}`,
    `steps beyond the floor ${seconds(stepsMs - fleetSize * floorPerTargetMs)}`,
    `between targets and after the last ${seconds(betweenMs)}`,
  ].join(' · ');
}

// --- the bench ---------------------------------------------------------------------------------

const benchStart = performance.now();
const dynamo = await startDynalite();
const rows: { fleetSize: number; floorMs: number; sluice: Run; waiters: Run }[] = [];
try {
  for (const fleetSize of FLEET_SIZES) {
    const sluice = await release(dynamo, fleetSize, 'polling');
    const waiters = await release(dynamo, fleetSize, 'sdk-waiters');
    rows.push({ fleetSize, floorMs: fleetSize * floorPerTargetMs, sluice, waiters });
  }
} finally {
  await dynamo.stop();
}

console.log(
  `rolling release ${FROM_VERSION} → ${TO_VERSION}, one target at a time: drain ${DRAIN_SECONDS} s, install ${seconds(INSTALL_MS)} `
    + `(SSM command end to end), healthy ${HEALTHY_THRESHOLD} × ${HEALTH_CHECK_INTERVAL_SECONDS} s; virtual time`,
);
const header = ['N', 'floor', 'sluice', 'ratio', 'SDK waiters', 'ratio', 'wall (sluice / waiters)'];
const table = rows.map(({ fleetSize, floorMs, sluice, waiters }) => [
  String(fleetSize),
  seconds(floorMs),
  seconds(sluice.elapsedMs),
  (sluice.elapsedMs / floorMs).toFixed(3),
  seconds(waiters.elapsedMs),
  (waiters.elapsedMs / floorMs).toFixed(3),
  `${(sluice.wallMs / 1000).toFixed(2)} s / ${(waiters.wallMs / 1000).toFixed(2)} s`,
]);
const widths = header.map((title, column) => Math.max(title.length, ...table.map((row) => row[column].length)));
for (const row of [header, ...table]) console.log(row.map((cell, column) => cell.padStart(widths[column])).join('  '));

for (const { fleetSize, sluice, waiters } of rows) {
  console.log(`N=${fleetSize} sluice:      ${overhead(sluice, fleetSize)}`);
  console.log(`N=${fleetSize} SDK waiters: ${overhead(waiters, fleetSize)}`);
}
const largest = rows.at(-1);
if (largest) {
  console.log(`first target, N=${largest.fleetSize}, sluice:      ${firstTargetSteps(largest.sluice)}`);
  console.log(`first target, N=${largest.fleetSize}, SDK waiters: ${firstTargetSteps(largest.waiters)}`);
}
console.log(`bench wall time ${((performance.now() - benchStart) / 1000).toFixed(2)} s`);

if (problems.length > 0 || !largest) {
  for (const problem of problems) console.error(`FAILED ${problem}`);
  process.exitCode = 1;
} else {
  const floorRatio = largest.sluice.elapsedMs / largest.floorMs;
  if (floorRatio > GOAL_RATIO) console.log(`sluice is above the goal of ${GOAL_RATIO} × floor`);
  console.log(JSON.stringify({ floorRatio: round3(floorRatio), waiterRatio: round3(largest.waiters.elapsedMs / largest.floorMs), targets: largest.fleetSize }));
}
