// `sluice flags list|set|ramp` against a simulated AppConfig control plane on virtual time: hosted
// versions numbered, deployments through DEPLOYING/BAKING/COMPLETE by their strategy, one at a time
// per environment, and the release gate as the environment's monitor rolling a deployment back.
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../../lib/runtime/clock.ts';
import type { FlagDefinition } from '../../../../lib/runtime/flags/flag-definition.ts';
import { runFlagsCli } from '../../../../lib/runtime/flags/cli/run-flags-cli.ts';
import { FlagsClient } from '../../../../lib/runtime/flags/flags-client.ts';
import { createFlagsWorld, type FlagsWorld, GATE_ALARM, hostedDocument } from '../../../helpers/appconfig-simulation/flags-world.ts';
import { CONTROL_PLANE_IDS, SIMULATED_IDS } from '../../../helpers/appconfig-simulation/simulated-appconfig.ts';

const DEFINITIONS: readonly FlagDefinition[] = [
  { name: 'jobs-batch-submit', description: 'batch', owner: 'platform', kind: 'rollout', default: false, percentage: 0 },
  { name: 'new-pricing', description: 'pricing', owner: 'billing', kind: 'kill-switch', default: false },
];
const MINUTE = 60_000;

let world: FlagsWorld | undefined;
afterEach(() => {
  world?.restore();
  world = undefined;
});

function startWorld(values: Record<string, { enabled: boolean; percentage?: number }> = { 'jobs-batch-submit': { enabled: false, percentage: 0 }, 'new-pricing': { enabled: true } }, alarms = [{ name: GATE_ALARM, type: 'composite' as const }, { name: 'p99-latency' }]): FlagsWorld {
  world = createFlagsWorld({ document: hostedDocument(values), alarms });
  return world;
}

interface Run {
  readonly code: number;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly startedAt: number;
}

function cli(argv: string[], clock: Clock = world!.clock): { done: Promise<Run>; stdout: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const startedAt = world!.clock.now();
  const done = runFlagsCli(argv, {
    clients: () => world!.clients,
    definitions: DEFINITIONS,
    clock,
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
  }).then((code) => ({ code, stdout, stderr, startedAt }));
  return { done, stdout };
}

function run(...argv: string[]): Promise<Run> {
  return world!.clock.run(cli(argv).done, { limitMs: 6 * 3_600_000 });
}

/** The flag's value in each hosted version, in order. */
function valuesOf(flag: string): unknown[] {
  return [...world!.appConfig.versions.values()].map((version) => (JSON.parse(version.content) as { values: Record<string, unknown> }).values[flag]);
}

/** The flag's value in the newest COMPLETE deployment (none of the tests reverts one that has a COMPLETE successor). */
function deployedValue(flag: string): unknown {
  const { appConfig } = world!;
  const complete = [...appConfig.deployments].reverse().find((deployment) => deployment.state === 'COMPLETE');
  return (JSON.parse(appConfig.versions.get(Number(complete!.version))!.content) as { values: Record<string, unknown> }).values[flag];
}

function deploymentsSummary(): Array<[string, string, unknown]> {
  const { appConfig } = world!;
  return appConfig.deployments.slice(1).map((deployment) => [deployment.strategy.id, deployment.state, (JSON.parse(appConfig.versions.get(Number(deployment.version))!.content) as { values: Record<string, { percentage?: number; enabled: boolean }> }).values['jobs-batch-submit']]);
}

describe('sluice flags set', () => {
  it('creates a version with only that flag changed, deploys it with the gradual strategy and follows it to COMPLETE', async () => {
    startWorld();
    const result = await run('set', 'jobs-batch-submit', '--percent', '5');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(valuesOf('jobs-batch-submit')).toEqual([{ enabled: false, percentage: 0 }, { enabled: true, percentage: 5 }]);
    expect(valuesOf('new-pricing')).toEqual([{ enabled: true }, { enabled: true }]);
    expect(deploymentsSummary()).toEqual([['strat-gradual', 'COMPLETE', { enabled: true, percentage: 5 }]]);
    // The gradual strategy: 10 minutes to 100 % and 5 minutes of bake, followed to the end.
    expect(world!.clock.now() - result.startedAt).toBeGreaterThanOrEqual(15 * MINUTE);
    expect(result.stdout.at(-1)).toMatch(/^\[15:\d\d\] jobs-batch-submit is on for 5 %: deployment 2 COMPLETE/);
    expect(result.stdout.some((line) => /deployment 2 DEPLOYING 60 %/.test(line))).toBe(true);
  });

  it('turns a kill switch off all at once, and a rollout off all at once too', async () => {
    startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 25 }, 'new-pricing': { enabled: true } });
    expect((await run('set', 'new-pricing', '--off')).code).toBe(0);
    expect((await run('set', 'jobs-batch-submit', '--off')).code).toBe(0);
    expect(world!.appConfig.deployments.slice(1).map((deployment) => [deployment.strategy.id, deployment.state])).toEqual([['strat-all-at-once', 'COMPLETE'], ['strat-all-at-once', 'COMPLETE']]);
    expect(deployedValue('new-pricing')).toEqual({ enabled: false });
    // Off keeps the percentage, so --on restores the same users.
    expect(deployedValue('jobs-batch-submit')).toEqual({ enabled: false, percentage: 25 });
  });

  it.each([
    [['set', 'jobs-batch-sumbit', '--on'], 'unknown flag "jobs-batch-sumbit": did you mean "jobs-batch-submit"? (declared in lib/runtime/app/flags.ts: jobs-batch-submit, new-pricing)'],
    [['set', 'jobs-batch-submit', '--percent', '101'], '--percent must be a number between 0 and 100 with up to 2 decimals (given "101")'],
    [['set', 'jobs-batch-submit', '--percent=-1'], '--percent must be a number between 0 and 100 with up to 2 decimals (given "-1")'],
    [['set', 'new-pricing', '--percent', '5'], 'flag new-pricing is a kill switch (on or off for everyone): use --on or --off, not --percent'],
    [['set', 'jobs-batch-submit', '--on', '--off'], 'flags set takes one of --on, --off or --percent N (given --on and --off)'],
    [['ramp', 'jobs-batch-submit', '--steps', '1,25,5', '--every', '10m'], '--steps must be strictly increasing, e.g. 1,5,25,100 (given "1,25,5")'],
    [['ramp', 'jobs-batch-submit', '--steps', '0,150', '--every', 'soon'], '2 problems:\n  - --steps must be percentages above 0 and at most 100 with up to 2 decimals, separated by commas (given "0,150"; not valid: "0", "150")\n  - --every must be a duration of at least 1s such as 30s, 10m or 1h (given "soon")'],
  ])('refuses %j before anything is read or written (exit 3)', async (argv, message) => {
    startWorld();
    const result = await run(...argv);
    expect(result.code).toBe(3);
    expect(result.stderr).toEqual([`sluice: ${message}`]);
    expect(world!.calls).toEqual([]);
  });

  it('refuses while another deployment is in progress (exit 4), writing nothing', async () => {
    startWorld();
    world!.appConfig.startDeployment({ ...CONTROL_PLANE_IDS, ConfigurationVersion: '1', DeploymentStrategyId: 'strat-gradual' });
    const result = await run('set', 'new-pricing', '--off');
    expect(result.code).toBe(4);
    expect(result.stderr[0]).toMatch(/^sluice: another deployment \(2\) is in progress in the environment: DEPLOYING .*; wait for it \(sluice flags list shows it\) and rerun; nothing was changed$/);
    expect(world!.calls.filter((call) => call.operation === 'CreateHostedConfigurationVersion')).toEqual([]);
  });

  it('reports the rollback (exit 1) when the release gate fires during the deployment and AppConfig rolls it back', async () => {
    startWorld();
    world!.alarms.fireAt(GATE_ALARM, world!.clock.now() + 4 * MINUTE);
    const result = await run('set', 'jobs-batch-submit', '--percent', '50');
    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([`sluice: AppConfig rolled deployment 2 back (ROLLED_BACK: Rollback completed); jobs-batch-submit is still off (0 % when on)`]);
    expect(deployedValue('jobs-batch-submit')).toEqual({ enabled: false, percentage: 0 });
  });

  it('turns a flag off while the release gate fires by reverting the deployment that turned it on, which AppConfig\'s monitor does not stop', async () => {
    startWorld({ 'jobs-batch-submit': { enabled: false, percentage: 0 }, 'new-pricing': { enabled: false } });
    expect((await run('set', 'new-pricing', '--on')).code).toBe(0);
    world!.alarms.fireAt(GATE_ALARM, world!.clock.now());
    const result = await run('set', 'new-pricing', '--off');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(world!.calls.filter((call) => call.operation === 'StopDeployment')).toHaveLength(1);
    expect(world!.appConfig.deployments.slice(1).map((deployment) => deployment.state)).toEqual(['REVERTED']);
    // The revert made no new hosted version: the flag is back to what the deployment before it held.
    expect(valuesOf('new-pricing')).toEqual([{ enabled: false }, { enabled: true }]);
    expect(deployedValue('new-pricing')).toEqual({ enabled: false });
    expect(result.stdout.some((line) => line.includes('reverting deployment 2'))).toBe(true);
  });

  it('says so and deploys anyway when the gate fires and no deployment of its own turned the flag on', async () => {
    startWorld();
    world!.alarms.fireAt(GATE_ALARM, world!.clock.now());
    const result = await run('set', 'new-pricing', '--off');
    expect(world!.calls.filter((call) => call.operation === 'StopDeployment')).toEqual([]);
    expect(world!.calls.filter((call) => call.operation === 'CreateHostedConfigurationVersion')).toHaveLength(1);
    expect(result.stdout.some((line) => line.includes(`${GATE_ALARM} in ALARM: AppConfig rolls back new deployments while its monitor fires`))).toBe(true);
  });

  it('names the stack outputs it could not find (exit 3)', async () => {
    world = createFlagsWorld({ document: hostedDocument({ 'new-pricing': { enabled: true } }), stackOutputs: { ReleaseGateAlarmName: GATE_ALARM } });
    const result = await run('set', 'new-pricing', '--off');
    expect(result.code).toBe(3);
    expect(result.stderr).toEqual([
      'sluice: stack sluice-dev has no output FlagsApplicationId, FlagsEnvironmentId, FlagsConfigurationProfileId, FlagsAllAtOnceStrategyId, FlagsGradualStrategyId: deploy the current stack (npx cdk deploy -c stage=dev) or pass --application-id, --environment-id, --configuration-profile-id, --all-at-once-strategy-id, --gradual-strategy-id',
    ]);
  });
});

describe('sluice flags ramp', () => {
  it('raises the percentage step by step with the gradual strategy, checking the alarms before each step', async () => {
    startWorld();
    const result = await run('ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m', '--alarm', 'p99-latency');
    expect(result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    expect(deploymentsSummary()).toEqual([1, 5, 25, 100].map((percentage) => ['strat-gradual', 'COMPLETE', { enabled: true, percentage }]));
    const operations = world!.calls.map((call) => call.operation);
    const starts = operations.flatMap((operation, index) => (operation === 'StartDeployment' ? [index] : []));
    for (const start of starts) {
      const lastCheck = operations.lastIndexOf('DescribeAlarms', start);
      expect(lastCheck).toBeGreaterThan(operations.lastIndexOf('StartDeployment', start - 1));
      expect(world!.calls[lastCheck]!.input).toMatchObject({ AlarmNames: [GATE_ALARM, 'p99-latency'] });
    }
    // 4 deployments of 15 minutes and 3 waits of 10.
    expect(world!.clock.now() - result.startedAt).toBeGreaterThanOrEqual(90 * MINUTE);
  });

  it('puts the previous percentage back (revert) when an alarm fires between steps, and exits 1', async () => {
    startWorld();
    // Step 1 completes at about 15 minutes, step 5 at about 40: the latency alarm fires in the wait after it.
    world!.alarms.fireAt('p99-latency', world!.clock.now() + 45 * MINUTE);
    const result = await run('ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m', '--alarm', 'p99-latency');
    expect(result.code).toBe(1);
    expect(deploymentsSummary()).toEqual([['strat-gradual', 'COMPLETE', { enabled: true, percentage: 1 }], ['strat-gradual', 'REVERTED', { enabled: true, percentage: 5 }]]);
    expect(deployedValue('jobs-batch-submit')).toEqual({ enabled: true, percentage: 1 });
    expect(result.stderr).toEqual(['sluice: p99-latency fired during the ramp; jobs-batch-submit was put back from on for 5 % to on for 1 %. Rerun the same ramp once the alarm is OK and its cause understood.']);
    // Within one 30-second alarm check of the alarm firing.
    const revert = world!.calls.find((call) => call.operation === 'StopDeployment')!;
    expect(revert.at - (result.startedAt + 45 * MINUTE)).toBeLessThanOrEqual(31_000);
  });

  it('stops at the previous percentage when the gate makes AppConfig roll a step back, and exits 1', async () => {
    startWorld();
    world!.alarms.fireAt(GATE_ALARM, world!.clock.now() + 30 * MINUTE);
    const result = await run('ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m');
    expect(result.code).toBe(1);
    expect(deploymentsSummary()).toEqual([['strat-gradual', 'COMPLETE', { enabled: true, percentage: 1 }], ['strat-gradual', 'ROLLED_BACK', { enabled: true, percentage: 5 }]]);
    expect(deployedValue('jobs-batch-submit')).toEqual({ enabled: true, percentage: 1 });
    expect(result.stderr[0]).toMatch(/^sluice: AppConfig rolled deployment 3 back \(ROLLED_BACK: Rollback completed\); jobs-batch-submit stays on for 1 %/);
  });

  it('resumes after being killed: waits for the deployment it left, then starts from the first step above the deployed percentage', async () => {
    startWorld();
    const { clock } = world!;
    let killed = false;
    // kill -9: from that moment the process does nothing more (its next wait never ends).
    const killable: Clock = { now: () => clock.now(), sleep: (ms, signal) => (killed ? new Promise(() => undefined) : clock.sleep(ms, signal)) };
    void cli(['ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m'], killable).done;
    // Step 25 starts at about 50 minutes; kill it in the middle of that deployment.
    await clock.run(clock.sleep(55 * MINUTE));
    killed = true;
    expect(world!.appConfig.deployments.at(-1)!.state).toBe('DEPLOYING');

    const rerun = await run('ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m');
    expect(rerun.stderr).toEqual([]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout.some((line) => /deployment 4 is in progress \(DEPLOYING\); waiting for it to end/.test(line))).toBe(true);
    expect(deploymentsSummary()).toEqual([1, 5, 25, 100].map((percentage) => ['strat-gradual', 'COMPLETE', { enabled: true, percentage }]));

    // Once at the last step, a rerun has nothing to do.
    const again = await run('ramp', 'jobs-batch-submit', '--steps', '1,5,25,100', '--every', '10m');
    expect(again.code).toBe(0);
    expect(again.stdout.at(-1)).toMatch(/jobs-batch-submit is on for 100 %: the ramp is done$/);
    expect(world!.appConfig.deployments).toHaveLength(5);
  });
});

describe('sluice flags list', () => {
  it('shows each flag\'s deployed value and the deployment in progress with what it changes', async () => {
    startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 5 }, 'new-pricing': { enabled: true } });
    const { appConfig } = world!;
    const { VersionNumber } = appConfig.createHostedConfigurationVersion({
      ...CONTROL_PLANE_IDS,
      Content: new TextEncoder().encode(hostedDocument({ 'jobs-batch-submit': { enabled: true, percentage: 25 }, 'new-pricing': { enabled: true } })),
      ContentType: 'application/json',
    });
    appConfig.startDeployment({ ...CONTROL_PLANE_IDS, ConfigurationVersion: String(VersionNumber), DeploymentStrategyId: 'strat-gradual' });
    await world!.clock.run(world!.clock.sleep(3 * MINUTE));
    const result = await run('list');
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual([
      'Feature flags of sluice-dev: hosted version 1 (deployment 1)',
      '  jobs-batch-submit  rollout      on for 5 %                owner platform',
      '  new-pricing        kill-switch  on                        owner billing',
      'Deployment 2 in progress: DEPLOYING 40 % (hosted version 2)',
      '  jobs-batch-submit: on for 5 % -> on for 25 %',
    ]);
    const json = await run('list', '--json');
    expect(JSON.parse(json.stdout[0]!)).toMatchObject({ deployed: { deploymentNumber: 1, version: '1' }, inProgress: { deploymentNumber: 2, state: 'DEPLOYING', version: '2' } });
  });
});

describe('the kill switch, end to end', () => {
  it('reaches every instance within one poll interval (15 s) plus the deployment', async () => {
    startWorld();
    const { clock, appConfig } = world!;
    const instances = Array.from({ length: 6 }, () => new FlagsClient({ client: world!.dataClient(), ...SIMULATED_IDS, definitions: DEFINITIONS, clock }));
    // Started 2.5 s apart, so that their polls are spread over the interval as a fleet's are.
    for (const instance of instances) {
      await clock.run(instance.start());
      await clock.run(clock.sleep(2_500));
    }
    expect(instances.every((instance) => instance.isEnabled('new-pricing', { userId: 'u' }))).toBe(true);
    const offAt = new Map<FlagsClient, number>();
    for (const instance of instances) instance.on('refreshed', ({ at }) => {
      if (!offAt.has(instance) && !instance.isEnabled('new-pricing', { userId: 'u' })) offAt.set(instance, at);
    });
    const result = await run('set', 'new-pricing', '--off');
    expect(result.code).toBe(0);
    // The CLI is done once AppConfig says COMPLETE; the instances keep polling.
    await clock.run(clock.sleep(20_000));
    const deployment = appConfig.deployments.at(-1)!;
    const deploymentMs = deployment.completedAt! - result.startedAt;
    const everyInstanceOffMs = Math.max(...instances.map((instance) => offAt.get(instance)!)) - result.startedAt;
    expect(offAt.size).toBe(instances.length);
    expect(everyInstanceOffMs).toBeLessThanOrEqual(15_000 + deploymentMs);
    console.log(`kill switch: deployment COMPLETE after ${deploymentMs} ms, every instance off after ${everyInstanceOffMs} ms`);
    for (const instance of instances) await clock.run(instance.stop());
  });
});
