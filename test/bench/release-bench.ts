// npm run bench:release — virtual time of a whole rolling release (1.0.0 → 2.0.0) on the AWS
// simulation with tuned settings, against the floor N × (drain + install + healthy): once with
// sluice's own DescribeTargetHealth polling (Elbv2TargetPool) and twice, each on a fresh simulation
// in the same run, with the SDK v3 waiters (Elbv2WaiterTargetPool) as the baseline: as they come
// (minDelay 15 s, maxDelay 120 s) and tuned to the fastest the SDK allows (1 s, see TUNED_DELAYS).
// Every run must succeed with the whole fleet on 2.0.0 and capacity never below N − 1 healthy, and
// sluice must stay within GOAL_RATIO of the floor, or the bench exits 1. Prints one JSON object as
// its last line: {"floorRatio", "waiterRatio", "tunedWaiterRatio", "targets"}.
import { performance } from 'node:perf_hooks';
import type { ReleaseEvents, ReleaseResult } from '../../lib/runtime/release/release-engine.ts';
import { type LocalDynamoDb, startDynalite } from '../helpers/dynalite.ts';
import { ReleaseHarness, type ReleaseHarnessOptions } from '../helpers/release-harness.ts';
import { atMost, enforceGoals } from './bench-goals.ts';
import { Elbv2WaiterTargetPool, SDK_DEFAULT_DELAYS, TUNED_DELAYS, type WaiterDelays } from './elbv2-waiter-target-pool.ts';

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

/** How the target pool waits: sluice's polling, or the SDK waiters with these delays. */
const WAITS = {
  sluice: undefined,
  waiters: SDK_DEFAULT_DELAYS,
  tunedWaiters: TUNED_DELAYS,
} as const satisfies Record<string, WaiterDelays | undefined>;
type Waits = keyof typeof WAITS;
const delaysLabel = ({ minDelaySeconds, maxDelaySeconds }: WaiterDelays) =>
  minDelaySeconds === maxDelaySeconds ? `${minDelaySeconds} s` : `${minDelaySeconds}–${maxDelaySeconds} s`;
const WAIT_LABELS: Record<Waits, string> = {
  sluice: 'sluice',
  waiters: `SDK waiters (${delaysLabel(SDK_DEFAULT_DELAYS)})`,
  tunedWaiters: `SDK waiters tuned (${delaysLabel(TUNED_DELAYS)})`,
};

interface Run {
  readonly elapsedMs: number;
  readonly wallMs: number;
  readonly result: ReleaseResult;
  readonly steps: StepEvent[];
}

const problems: string[] = [];

async function release(dynamo: LocalDynamoDb, fleetSize: number, waits: Waits): Promise<Run> {
  const delays = WAITS[waits];
  const harness = await ReleaseHarness.create(dynamo, { ...stage, instances: fleetSize, waitWith: delays ? 'sdk-waiters' : 'polling' });
  try {
    harness.guardCapacity(fleetSize, 1);
    const { clients, names, clock } = harness.sim;
    const pool = delays && new Elbv2WaiterTargetPool({ client: clients.elbv2, targetGroupArn: names.targetGroupArn, clock, waiterDelays: delays });
    const engine = harness.engine({ version: TO_VERSION, holder: 'bench', ...(pool && { pool }) });
    const steps: StepEvent[] = [];
    engine.on('step', (event) => steps.push(event));
    const wallStart = performance.now();
    const { value: result, elapsedMs } = await harness.sim.timed(engine.run());
    const wallMs = performance.now() - wallStart;

    const label = `N=${fleetSize} ${WAIT_LABELS[waits]}`;
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
const rows: ({ fleetSize: number; floorMs: number } & Record<Waits, Run>)[] = [];
try {
  for (const fleetSize of FLEET_SIZES) {
    const sluice = await release(dynamo, fleetSize, 'sluice');
    const waiters = await release(dynamo, fleetSize, 'waiters');
    const tunedWaiters = await release(dynamo, fleetSize, 'tunedWaiters');
    rows.push({ fleetSize, floorMs: fleetSize * floorPerTargetMs, sluice, waiters, tunedWaiters });
  }
} finally {
  await dynamo.stop();
}

console.log(
  `rolling release ${FROM_VERSION} → ${TO_VERSION}, one target at a time: drain ${DRAIN_SECONDS} s, install ${seconds(INSTALL_MS)} `
    + `(SSM command end to end), healthy ${HEALTHY_THRESHOLD} × ${HEALTH_CHECK_INTERVAL_SECONDS} s; virtual time`,
);
const allWaits = Object.keys(WAITS) as Waits[];
const header = ['N', 'floor', ...allWaits.flatMap((waits) => [WAIT_LABELS[waits], 'ratio']), 'wall (each)'];
const table = rows.map((row) => [
  String(row.fleetSize),
  seconds(row.floorMs),
  ...allWaits.flatMap((waits) => [seconds(row[waits].elapsedMs), (row[waits].elapsedMs / row.floorMs).toFixed(3)]),
  allWaits.map((waits) => `${(row[waits].wallMs / 1000).toFixed(2)} s`).join(' / '),
]);
const widths = header.map((title, column) => Math.max(title.length, ...table.map((row) => row[column].length)));
for (const row of [header, ...table]) console.log(row.map((cell, column) => cell.padStart(widths[column])).join('  '));

const labelWidth = Math.max(...allWaits.map((waits) => WAIT_LABELS[waits].length));
for (const row of rows) {
  for (const waits of allWaits) console.log(`N=${row.fleetSize} ${`${WAIT_LABELS[waits]}:`.padEnd(labelWidth + 1)} ${overhead(row[waits], row.fleetSize)}`);
}
const largest = rows.at(-1);
if (largest) {
  for (const waits of allWaits) console.log(`first target, N=${largest.fleetSize}, ${`${WAIT_LABELS[waits]}:`.padEnd(labelWidth + 1)} ${firstTargetSteps(largest[waits])}`);
}
console.log(`bench wall time ${((performance.now() - benchStart) / 1000).toFixed(2)} s`);

if (problems.length > 0 || !largest) {
  for (const problem of problems) console.error(`FAILED ${problem}`);
  process.exitCode = 1;
} else {
  const ratio = (waits: Waits) => round3(largest[waits].elapsedMs / largest.floorMs);
  enforceGoals([atMost('floorRatio', ratio('sluice'), GOAL_RATIO)]);
  console.log(JSON.stringify({ floorRatio: ratio('sluice'), waiterRatio: ratio('waiters'), tunedWaiterRatio: ratio('tunedWaiters'), targets: largest.fleetSize }));
}
