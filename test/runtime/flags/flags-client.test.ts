// The flags client against a stateful AppConfig Data simulation on virtual time: it polls no sooner
// than the interval AppConfig names (an early poll would be refused), treats an empty answer as
// unchanged, keeps the last configuration it received while AppConfig is unreachable, answers the
// code defaults when it never received one, and starts a new session when its token stops working.
import { afterEach, describe, expect, it } from 'vitest';
import type { FlagDefinition } from '../../../lib/runtime/flags/flag-definition.ts';
import { FlagsClient, type FlagsClientOptions } from '../../../lib/runtime/flags/flags-client.ts';
import type { Logger } from '../../../lib/runtime/json-logger.ts';
import { createFlagsWorld, type FlagsWorld, hostedDocument } from '../../helpers/appconfig-simulation/flags-world.ts';
import { CONTROL_PLANE_IDS, SIMULATED_IDS } from '../../helpers/appconfig-simulation/simulated-appconfig.ts';

const DEFINITIONS: readonly FlagDefinition[] = [
  { name: 'jobs-batch-submit', description: 'batch', owner: 'platform', kind: 'rollout', default: false, percentage: 0 },
  { name: 'new-pricing', description: 'pricing', owner: 'billing', kind: 'kill-switch', default: true },
  { name: 'not-yet-deployed', description: 'declared after the last deploy', owner: 'platform', kind: 'kill-switch', default: true },
];
const USERS = Array.from({ length: 2000 }, (_, index) => `user-${index}`);

let world: FlagsWorld | undefined;
const clients: FlagsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await world!.clock.run(client.stop());
  world?.restore();
  world = undefined;
});

function recordingLogger(): Logger & { readonly lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  return { lines, log: (level, event, fields = {}) => lines.push({ level, event, fields: { ...fields } }) };
}

function startWorld(values: Record<string, { enabled: boolean; percentage?: number }>): FlagsWorld {
  world = createFlagsWorld({ document: hostedDocument(values) });
  return world;
}

function flagsClient(overrides: Partial<FlagsClientOptions> = {}): FlagsClient {
  const client = new FlagsClient({ client: world!.clients.appConfigData, ...SIMULATED_IDS, definitions: DEFINITIONS, clock: world!.clock, ...overrides });
  clients.push(client);
  return client;
}

/** The share of USERS the flag is on for, in percent. */
function shareOn(client: FlagsClient, flag: string): number {
  return (USERS.filter((userId) => client.isEnabled(flag, { userId })).length / USERS.length) * 100;
}

/** Deploys a new document with the all-at-once strategy, as `sluice flags set` would. */
function deploy(values: Record<string, { enabled: boolean; percentage?: number }>): void {
  const { appConfig } = world!;
  const { VersionNumber } = appConfig.createHostedConfigurationVersion({ ...CONTROL_PLANE_IDS, Content: new TextEncoder().encode(hostedDocument(values)), ContentType: 'application/json' });
  appConfig.startDeployment({ ...CONTROL_PLANE_IDS, ConfigurationVersion: String(VersionNumber), DeploymentStrategyId: 'strat-all-at-once' });
}

describe('FlagsClient', () => {
  it('decides from the deployed configuration: kill switch first, then the sticky percentage', async () => {
    const { clock } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 25 }, 'new-pricing': { enabled: false } });
    const client = flagsClient();
    await clock.run(client.start());
    expect(client.status()).toEqual({ source: 'appconfig', lastRefreshedAt: clock.now(), consecutiveFailures: 0 });
    expect(Math.abs(shareOn(client, 'jobs-batch-submit') - 25)).toBeLessThan(3);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(false);

    deploy({ 'jobs-batch-submit': { enabled: false, percentage: 100 }, 'new-pricing': { enabled: true } });
    await clock.run(clock.sleep(20_000));
    // enabled: false wins over any percentage: the kill switch is checked first.
    expect(shareOn(client, 'jobs-batch-submit')).toBe(0);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(true);
  });

  it('polls at the interval AppConfig names, never too early, and treats empty answers as unchanged', async () => {
    const { clock, appConfig } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 5 } });
    const logger = recordingLogger();
    const client = flagsClient({ logger });
    await clock.run(client.start());
    const before = USERS.filter((userId) => client.isEnabled('jobs-batch-submit', { userId }));
    await clock.run(clock.sleep(10 * 60_000));
    const polls = appConfig.polls;
    expect(polls.filter((poll) => poll.error)).toEqual([]);
    // 10 minutes at 15 s (plus each call's 50 ms): the first poll and 39 more, progress as well as politeness.
    expect(polls.length).toBe(40);
    for (let index = 1; index < polls.length; index += 1) expect(polls[index]!.at - polls[index - 1]!.at).toBe(15_050);
    expect(polls.filter((poll) => poll.changed)).toHaveLength(1);
    expect(USERS.filter((userId) => client.isEnabled('jobs-batch-submit', { userId }))).toEqual(before);
    expect(logger.lines.filter((line) => line.event === 'flags.configuration_received')).toHaveLength(1);
  });

  it('honours a longer interval (60 s) for the whole session', async () => {
    const { clock, appConfig } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 5 } });
    const client = flagsClient({ pollIntervalSeconds: 60 });
    await clock.run(client.start());
    await clock.run(clock.sleep(5 * 60_000));
    // 60 s between polls, plus each call's 50 ms.
    expect(appConfig.polls.map((poll) => poll.at - appConfig.polls[0]!.at)).toEqual([0, 60_050, 120_100, 180_150, 240_200]);
  });

  it('keeps the last configuration it received while AppConfig is unreachable, says since when, and picks up changes once it is back', async () => {
    const { clock, appConfig } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 50 }, 'new-pricing': { enabled: false } });
    const logger = recordingLogger();
    const client = flagsClient({ logger });
    await clock.run(client.start());
    const refreshedAt = client.status().lastRefreshedAt!;
    const halfOn = USERS.filter((userId) => client.isEnabled('jobs-batch-submit', { userId }));

    appConfig.dataPlaneUp = false;
    await clock.run(clock.sleep(5 * 60_000));
    expect(client.status()).toMatchObject({ source: 'appconfig', lastRefreshedAt: refreshedAt });
    expect(client.status().consecutiveFailures).toBeGreaterThan(10);
    expect(USERS.filter((userId) => client.isEnabled('jobs-batch-submit', { userId }))).toEqual(halfOn);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(false);
    // One warning for the outage (and one per 20 failures), not one per poll.
    const warnings = logger.lines.filter((line) => line.event === 'flags.refresh_failed');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
    expect(warnings[0]!.fields.fallback).toMatch(/^keeping the configuration received at 2026-01-01T00:00:00/);

    deploy({ 'jobs-batch-submit': { enabled: true, percentage: 100 }, 'new-pricing': { enabled: true } });
    appConfig.dataPlaneUp = true;
    await clock.run(clock.sleep(20_000));
    expect(client.status()).toMatchObject({ source: 'appconfig', consecutiveFailures: 0 });
    expect(client.status().lastRefreshedAt).toBeGreaterThan(refreshedAt);
    expect(shareOn(client, 'jobs-batch-submit')).toBe(100);
  });

  it('answers the code defaults when AppConfig is down from the start, without throwing, and the deployed values once it answers', async () => {
    const { clock, appConfig } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 100 }, 'new-pricing': { enabled: false } });
    appConfig.dataPlaneUp = false;
    const client = flagsClient();
    await clock.run(client.start());
    expect(client.status()).toEqual({ source: 'code-defaults', consecutiveFailures: 1 });
    expect(client.isEnabled('jobs-batch-submit', { userId: 'user-1' })).toBe(false);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(true);

    appConfig.dataPlaneUp = true;
    await clock.run(clock.sleep(20_000));
    expect(client.status().source).toBe('appconfig');
    expect(client.isEnabled('jobs-batch-submit', { userId: 'user-1' })).toBe(true);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(false);
  });

  it('starts a new session when its token stops working', async () => {
    const { clock, appConfig } = startWorld({ 'new-pricing': { enabled: false } });
    const client = flagsClient();
    await clock.run(client.start());
    appConfig.invalidateTokens();
    deploy({ 'new-pricing': { enabled: true } });
    await clock.run(clock.sleep(40_000));
    expect(appConfig.polls.map((poll) => poll.error ?? (poll.changed ? 'changed' : 'unchanged'))).toEqual(['changed', 'BadRequestException', 'changed', 'unchanged']);
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(true);
  });

  it('answers a flag the configuration lacks with its code default and an undeclared flag with off, logging each once', async () => {
    const { clock } = startWorld({ 'jobs-batch-submit': { enabled: true, percentage: 100 } });
    const logger = recordingLogger();
    const client = flagsClient({ logger });
    await clock.run(client.start());
    for (let call = 0; call < 3; call += 1) {
      expect(client.isEnabled('not-yet-deployed', { userId: 'user-1' })).toBe(true);
      expect(client.isEnabled('no-such-flag', { userId: 'user-1' })).toBe(false);
    }
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => [line.event, line.fields.flag])).toEqual([
      ['flags.flag_not_deployed', 'not-yet-deployed'],
      ['flags.undeclared_flag', 'no-such-flag'],
    ]);
  });

  it('keeps the last good configuration when a new one is not a flag document', async () => {
    const { clock, appConfig } = startWorld({ 'new-pricing': { enabled: false } });
    const logger = recordingLogger();
    const client = flagsClient({ logger });
    await clock.run(client.start());
    // Content AppConfig would refuse for a FeatureFlags profile; put straight into the store, as a freeform profile could hold.
    appConfig.versions.set(2, { content: 'not json' });
    appConfig.startDeployment({ ...CONTROL_PLANE_IDS, ConfigurationVersion: '2', DeploymentStrategyId: 'strat-all-at-once' });
    await clock.run(clock.sleep(20_000));
    expect(client.isEnabled('new-pricing', { userId: 'user-1' })).toBe(false);
    expect(logger.lines.find((line) => line.event === 'flags.configuration_problems')?.fields.problems).toEqual([expect.stringMatching(/^the configuration is not valid JSON/)]);
  });

  it('refuses options AppConfig would refuse, naming each', () => {
    startWorld({});
    expect(() => flagsClient({ pollIntervalSeconds: 5, applicationId: '' })).toThrow(
      /pollIntervalSeconds must be a whole number between 15 and 86400 seconds \(given 5\)\n {2}- applicationId must name the AppConfig application \(given ""\)/,
    );
  });
});
