import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { AwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';
import { healthyTargetsAtLeast, outOfServiceInOneZone, targetsOutOfServiceAtMost } from '../../../helpers/aws-simulation/invariants.ts';
import { stageTraffic, type VersionBehaviour } from '../../../helpers/aws-simulation/stage-traffic.ts';
import { useCliStages } from '../../../helpers/cli-stages.ts';

// The release marker, the before/after report with --max-regression, and --by-zone, as a user runs
// `sluice release` against the simulated stage. The traffic is the test's: per version, the latency,
// 5xx share and job failure share of what the serving targets publish, in virtual time.

const deployedStage = useCliStages();

/** The old version: 100 ms typical, 1 % 5xx, 5 % of jobs failing (enough of each that ±1 is noise below 10 %). */
const OLD: VersionBehaviour = { latencyMs: 100, errorRate: 0.01, jobFailureRate: 0.05 };

/** Traffic since half an hour before the release; `versions` says how the new ones behave. */
function withTraffic(sim: AwsSimulation, stage: string, versions: Record<string, VersionBehaviour>, rates: { requestsPerTarget?: number; jobsPerTarget?: number } = {}): void {
  sim.metrics.generate(stageTraffic({ stage, versions, otherwise: OLD, requestsPerTarget: 50, ...rates }), { since: sim.clock.now() - 30 * 60_000 });
}

function instancesIn(sim: AwsSimulation, zone: string): string[] {
  return sim.state.instances().filter((instance) => instance.availabilityZone === zone).map((instance) => instance.id);
}

function callsOn(sim: AwsSimulation, operation: string, instanceId: string): number {
  return sim.state.calls.filter((call) => call.operation === operation && JSON.stringify(call.input).includes(instanceId)).length;
}

/** The table row of one metric in the printed report. */
function reportRow(stdout: readonly string[], label: string): string | undefined {
  return stdout.find((line) => new RegExp(`^\\[\\d\\d:\\d\\d\\] {3}${label} {2}`).test(line));
}

describe('sluice release --bake … --max-regression', () => {
  it('catches a version that made p99 latency 4 × worse, with no alarm firing, and rolls every target back', async () => {
    const { sim, stage, cli, summaryPath } = await deployedStage({ instances: 4 });
    withTraffic(sim, stage, { '2.0.0': { latencyMs: 400, errorRate: 0.01, jobFailureRate: 0.05 } });

    const run = await cli(['release', '2.0.0', '--bake', '3m', '--max-regression', '20%'], { env: { GITHUB_STEP_SUMMARY: summaryPath } });

    expect(run.exitCode).toBe(1);
    expect(sim.state.firingAlarms()).toEqual([]);
    expect(Object.values(sim.state.versions())).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    expect(run.stderr.join('\n')).toMatch(/cause: release at report \[MetricRegression\]: p99 latency 1\d\d ms → 4\d\d ms \(\+\d+ %\) after the release: worse by more than --max-regression 20%/);
    expect(reportRow(run.stdout, 'p99 latency')).toMatch(/1\d\d ms +4\d\d ms +\+\d{3} % +REGRESSED$/);
    expect(reportRow(run.stdout, '5xx rate')).toMatch(/1 % +1 % +[+-]?\d(\.\d)? % +ok$/);
    expect(reportRow(run.stdout, 'job failure rate')).toMatch(/5 % +5 % +[+-]?\d(\.\d)? % +ok$/);
    const summary = await readFile(summaryPath, 'utf8');
    expect(summary).toContain('failed and rolled back');
    expect(summary).toMatch(/\| p99 latency \| 1\d\d ms \| 4\d\d ms \| \+\d+ % \| REGRESSED \|/);
  });

  it('passes a version whose metrics moved less than the limit, and prints and summarises the report', async () => {
    const { sim, stage, cli, summaryPath } = await deployedStage({ instances: 4 });
    // +10 % latency and +10 % 5xx: noise under a 25 % limit.
    withTraffic(sim, stage, { '2.0.0': { latencyMs: 110, errorRate: 0.011, jobFailureRate: 0.05 } });

    const run = await cli(['release', '2.0.0', '--bake', '3m', '--max-regression', '25%'], { env: { GITHUB_STEP_SUMMARY: summaryPath } });

    expect(run.exitCode).toBe(0);
    expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    expect(run.stdout.some((line) => /release report: after \d\d:\d\d–\d\d:\d\d UTC vs before \d\d:\d\d–\d\d:\d\d UTC \(limit \+25 %\)/.test(line))).toBe(true);
    expect(reportRow(run.stdout, 'p99 latency')).toMatch(/ms +\+(9|1\d)(\.\d)? % +ok$/);
    expect(reportRow(run.stdout, '5xx rate')).toMatch(/ok$/);
    expect(reportRow(run.stdout, 'job failure rate')).toMatch(/ok$/);
    const summary = await readFile(summaryPath, 'utf8');
    expect(summary).toContain('✅ released');
    expect(summary).toMatch(/\| Metric \| Before \| After \| Change \| Verdict \|\n\| --- \| --- \| --- \| --- \| --- \|\n\| p99 latency \|/);
    // The report's reads follow NextToken (5 datapoints a page): more pages than windows.
    expect(sim.state.calls.filter((call) => call.operation === 'GetMetricData').length).toBeGreaterThan(2);
  });

  it('says "not enough traffic to judge" rather than judging a handful of requests, and releases', async () => {
    const { sim, stage, cli } = await deployedStage({ instances: 4 });
    // One request per target every 10 s and no jobs: under 100 requests in the after window.
    withTraffic(sim, stage, { '2.0.0': { latencyMs: 400 } }, { requestsPerTarget: 1, jobsPerTarget: 0 });

    const run = await cli(['release', '2.0.0', '--bake', '3m', '--max-regression', '20%']);

    expect(run.exitCode).toBe(0);
    expect(reportRow(run.stdout, 'p99 latency')).toMatch(/not enough traffic to judge \(\d+ requests (before|after), 100 needed\)$/);
    expect(reportRow(run.stdout, '5xx rate')).toMatch(/not enough traffic to judge/);
    expect(reportRow(run.stdout, 'job failure rate')).toMatch(/—  +—  +not enough traffic to judge \(0 minute\(s\) with data before, 2 needed\)$/);
  });

  it('refuses a limit it cannot apply, as bad input, touching nothing', async () => {
    const { sim, cli } = await deployedStage();
    for (const argv of [['--max-regression', 'ten'], ['--max-regression', '0%'], ['--max-regression', '20%', '--bake', '2m']]) {
      const run = await cli(['release', '2.0.0', ...argv]);
      expect(run.exitCode).toBe(3);
      expect(run.stderr.join('\n')).toMatch(/--max-regression (must be a percentage above 0% and at most 1000%, such as 10%|needs --bake 3m or longer)/);
    }
    expect(sim.state.calls.filter((call) => call.operation === 'DeregisterTargets')).toEqual([]);
  });
});

describe('the release marker', () => {
  it('publishes one ReleaseMarker point when the release starts, as each target switches, and when it ends', async () => {
    const { sim, stage, cli } = await deployedStage({ instances: 3 });

    const run = await cli(['release', '2.0.0']);

    expect(run.exitCode).toBe(0);
    const markers = sim.metrics.recordsOf('ReleaseMarker');
    expect(markers).toHaveLength(1 + 3 + 1);
    for (const marker of markers) expect(marker).toMatchObject({ namespace: 'sluice', dimensions: { Stage: stage }, values: [1], unit: 'Count' });
    const calls = sim.state.calls;
    const firstOut = calls.find((call) => call.operation === 'DeregisterTargets')!.at;
    const lastIn = calls.filter((call) => call.operation === 'RegisterTargets').at(-1)!.at;
    expect(markers[0].at).toBeLessThanOrEqual(firstOut);
    expect(markers.at(-1)!.at).toBeGreaterThan(lastIn);
    // Each switch is the moment a target turned healthy on 2.0.0 (seen within the 1-second poll).
    const healthyAt = sim.state.events.filter((event) => event.description === 'healthy' && event.at > firstOut).map((event) => event.at);
    expect(healthyAt).toHaveLength(3);
    markers.slice(1, 4).forEach((marker, index) => {
      expect(marker.at - healthyAt[index]).toBeGreaterThanOrEqual(0);
      expect(marker.at - healthyAt[index]).toBeLessThanOrEqual(1_000);
    });
  });

  it('marks the rollback and every target switching back', async () => {
    const { sim, stage, cli } = await deployedStage({ instances: 4 });
    withTraffic(sim, stage, { '2.0.0': { latencyMs: 400 } });

    const run = await cli(['release', '2.0.0', '--bake', '3m', '--max-regression', '20%']);

    expect(run.exitCode).toBe(1);
    // start, 4 switches to 2.0.0, rollback, 4 switches back, end.
    const markers = sim.metrics.recordsOf('ReleaseMarker');
    expect(markers).toHaveLength(1 + 4 + 1 + 4 + 1);
    const reportRead = sim.state.calls.find((call) => call.operation === 'GetMetricData')!.at;
    expect(markers.slice(0, 5).every((marker) => marker.at < reportRead)).toBe(true);
    expect(markers[5].at).toBeGreaterThanOrEqual(reportRead);
  });

  it('warns and carries on when CloudWatch refuses the marker, after two retries', async () => {
    const { sim, cli } = await deployedStage({ instances: 3 });
    sim.faults.throttle({ operations: ['PutMetricData'], fraction: 1 });

    const run = await cli(['release', '2.0.0']);

    expect(run.exitCode).toBe(0);
    expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expect(run.stdout.filter((line) => /warning: could not publish the (start|switch|end) release marker \(the release goes on\): PutMetricData .* Throttling/.test(line))).toHaveLength(5);
    expect(sim.state.calls.filter((call) => call.operation === 'PutMetricData')).toHaveLength(5 * 3);
  });
});

describe('sluice release --by-zone', () => {
  it('releases one Availability Zone after the other, never two at once, within --max-unavailable', async () => {
    // One instance per DescribeAutoScalingInstances page: the zone lookup must follow NextToken.
    const { sim, stage, cli, summaryPath } = await deployedStage({ instances: 4, autoScaling: { instancePageSize: 1 } });
    withTraffic(sim, stage, {});
    sim.invariants.add('never two zones in flight', outOfServiceInOneZone());
    sim.invariants.add('never more than 2 out', targetsOutOfServiceAtMost(2));
    sim.invariants.add('never below 2 healthy', healthyTargetsAtLeast(2));
    const [zoneA, zoneB] = [instancesIn(sim, 'us-east-1a'), instancesIn(sim, 'us-east-1b')];

    const run = await cli(['release', '2.0.0', '--by-zone', '--max-unavailable', '2', '--bake', '3m', '--max-regression', '20%'], { env: { GITHUB_STEP_SUMMARY: summaryPath } });

    expect(run.exitCode).toBe(0);
    expect(sim.invariants.violations).toEqual([]);
    const installs = sim.state.calls.filter((call) => call.operation === 'SendCommand' && JSON.stringify(call.input).includes("sluice-install '2.0.0'"));
    const installedOn = installs.map((call) => (call.input as { InstanceIds: string[] }).InstanceIds[0]);
    expect(installedOn.slice(0, 2).sort()).toEqual([...zoneA].sort());
    expect(installedOn.slice(2).sort()).toEqual([...zoneB].sort());
    // Zone a's two went together (2 may be out), and zone b started only after zone a's report.
    const reads = sim.state.calls.filter((call) => call.operation === 'GetMetricData').map((call) => call.at);
    expect(installs[2].at).toBeGreaterThan(reads[0]);
    expect(run.stdout.filter((line) => /zone us-east-1[ab] \(\d of 2\)/.test(line)).map((line) => line.replace(/^\[\d\d:\d\d\] /, '').replace(/:.*/, ''))).toEqual([
      'zone us-east-1a (1 of 2)',
      'zone us-east-1b (2 of 2)',
    ]);
    expect(run.stdout.filter((line) => line.includes('release report after zone'))).toHaveLength(2);
    const summary = await readFile(summaryPath, 'utf8');
    expect(summary).toContain('Zone by zone: 1. `us-east-1a` (2 targets) → 2. `us-east-1b` (2 targets)');
    expect(summary).toContain(`| \`${zoneA[0]}\` | us-east-1a | release |`);
  });

  it('rolls the first zone back when its report shows a regression, before the second zone starts', async () => {
    const { sim, stage, cli } = await deployedStage({ instances: 4 });
    withTraffic(sim, stage, { '2.0.0': { latencyMs: 400, errorRate: 0.01, jobFailureRate: 0.05 } });
    sim.invariants.add('never two zones in flight', outOfServiceInOneZone());
    const [zoneA, zoneB] = [instancesIn(sim, 'us-east-1a'), instancesIn(sim, 'us-east-1b')];

    const run = await cli(['release', '2.0.0', '--by-zone', '--bake', '3m', '--max-regression', '20%']);

    expect(run.exitCode).toBe(1);
    expect(run.stderr.join('\n')).toMatch(/\[MetricRegression\]: p99 latency .* after zone us-east-1a: worse by more than --max-regression 20%/);
    expect(Object.values(sim.state.versions())).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    for (const id of zoneA) expect(callsOn(sim, 'DeregisterTargets', id)).toBe(2);
    // Zone b served the old version throughout: never taken out, never installed on.
    for (const id of zoneB) {
      expect(callsOn(sim, 'DeregisterTargets', id)).toBe(0);
      expect(sim.state.calls.filter((call) => call.operation === 'SendCommand' && JSON.stringify(call.input).includes('sluice-install') && JSON.stringify(call.input).includes(id))).toEqual([]);
    }
    expect(run.stdout.some((line) => line.includes('zone us-east-1b'))).toBe(false);
    expect(sim.invariants.violations).toEqual([]);
  });

  it('shows the zones and their waves in the dry run, and the budget with a report per zone', async () => {
    const { sim, cli } = await deployedStage({ instances: 3 });
    const zoneA = instancesIn(sim, 'us-east-1a');

    const run = await cli(['release', '2.0.0', '--by-zone', '--dry-run', '--bake', '3m']);

    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`  ${zoneA[0]}  healthy   1.0.0            us-east-1a  release`);
    expect(run.stdout).toContain('  zone by zone, never two at once: us-east-1a (2 target(s), 2 wave(s)), then us-east-1b (1 target(s), 1 wave(s))');
    // 3 waves × (30 s drain + 30 s install + 10 s healthy + 3 m bake) + 2 reports × 1 m.
    expect(run.stdout).toContain('Budget: 3 × (drain 30s + install 30s + healthy 10s + bake 3m) + 2 × report 1m = 14m30s');
    expect(sim.state.calls.filter((call) => call.operation === 'DeregisterTargets')).toEqual([]);
  });
});
