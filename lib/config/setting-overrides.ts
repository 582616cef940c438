import { Duration } from 'aws-cdk-lib';
import { parseDurationMs } from '../runtime/duration.ts';
import { closestMatch } from '../runtime/problems.ts';
import { ciContextKeys } from './ci-settings.ts';
import type { StageConfig } from './stage-config.ts';

type SettingKind = 'integer' | 'number' | 'duration' | 'text' | 'boolean' | 'list';

/**
 * How each setting is written on the command line. Typed over every key of StageConfig, so a new
 * setting cannot be added without saying how to override it.
 */
const settingKinds: Record<Exclude<keyof StageConfig, 'stageName'>, SettingKind> = {
  protectData: 'boolean',
  queueConsumer: 'text',
  streamConsumer: 'text',
  externalApiUrl: 'text',
  instanceTypes: 'list',
  detailedMonitoring: 'boolean',
  amiId: 'text',
  minCapacity: 'integer',
  desiredCapacity: 'integer',
  maxCapacity: 'integer',
  appPort: 'integer',
  healthCheckPath: 'text',
  healthCheckInterval: 'duration',
  healthCheckTimeout: 'duration',
  healthyThreshold: 'integer',
  unhealthyThreshold: 'integer',
  deregistrationDelay: 'duration',
  healthCheckGracePeriod: 'duration',
  workerStopTimeout: 'duration',
  installHealthTimeout: 'duration',
  instanceReadyTimeout: 'duration',
  natGateways: 'integer',
  certificateArn: 'text',
  queueVisibilityTimeout: 'duration',
  maxReceiveCount: 'integer',
  queueRetention: 'duration',
  streamMode: 'text',
  shardCount: 'integer',
  streamRetention: 'duration',
  elb5xxRateThreshold: 'number',
  target5xxRateThreshold: 'number',
  responseTimeP99Threshold: 'duration',
  minHealthyHosts: 'integer',
  queueMessageAgeThreshold: 'duration',
  streamIteratorAgeThreshold: 'duration',
  jobFailureRateThreshold: 'number',
  streamFailureRateThreshold: 'number',
  jobsStalledAfter: 'duration',
  latencyAnomalyBandWidth: 'number',
  alarmEmail: 'text',
  logRetention: 'integer',
  artifactInfrequentAccessDays: 'integer',
  artifactNoncurrentRetentionDays: 'integer',
  database: 'boolean',
  databaseInstanceType: 'text',
  databaseAllocatedStorage: 'integer',
  databaseMaxAllocatedStorage: 'integer',
  databaseMultiAz: 'boolean',
  databaseBackupRetention: 'duration',
  databaseCpuThreshold: 'number',
  databaseFreeStorageThreshold: 'number',
  databaseConnectionsThreshold: 'integer',
  flagsRolloutDuration: 'duration',
  flagsRolloutGrowthFactor: 'number',
  flagsRolloutBakeTime: 'duration',
  webFirewall: 'boolean',
  webFirewallRateLimit: 'integer',
  blockedRequestsThreshold: 'integer',
};

export const overridableSettings = Object.keys(settingKinds) as (keyof typeof settingKinds)[];

/** The context key that chooses the stage: `-c stage=prod`. */
export const stageContextKey = 'stage';

/**
 * Context keys the CDK CLI itself may pass that have neither "@" nor ":" in them: `cdk acknowledge`
 * and `cdk cli-telemetry` record theirs in cdk.context.json, and aws-cdk-lib reads
 * `assets-ecr-repository-name`. Every other key of the CDK's own (feature flags, `aws:cdk:*`,
 * cached lookups) has one of the two.
 */
const cdkContextKeys: ReadonlySet<string> = new Set(['acknowledged-issue-numbers', 'cli-telemetry', 'assets-ecr-repository-name']);

export interface ParsedOverrides {
  readonly overrides: Partial<StageConfig>;
  readonly problems: string[];
}

/**
 * Reads `-c <setting>=<value>` overrides from the app's context. Context values arrive as strings
 * from the command line and as JSON values from cdk.json; both are accepted. Lists are comma-separated. Durations are seconds,
 * or a number with a unit: `500ms`, `30s`, `5m`, `2h`, `7d`. A key that is neither a setting nor
 * the CDK's own is a problem: a misspelt setting would otherwise be ignored without a word.
 */
export function parseSettingOverrides(context: Readonly<Record<string, unknown>>): ParsedOverrides {
  const overrides: Record<string, unknown> = {};
  const problems = Object.keys(context).filter(isUnknownSetting).map(unknownSetting);
  for (const name of overridableSettings) {
    const raw = Object.hasOwn(context, name) ? context[name] : undefined;
    if (raw === undefined) continue;
    const parsed = parseSetting(settingKinds[name], raw);
    if (parsed.ok) overrides[name] = parsed.value;
    else problems.push(`${name} must be ${parsed.expected} (given ${JSON.stringify(raw)})`);
  }
  return { overrides: overrides as Partial<StageConfig>, problems };
}

// The CI stack's keys last: `-c githubRepository=owner/name` adds the CI stack (lib/config/ci-settings.ts).
const settingNames: readonly string[] = [stageContextKey, ...overridableSettings, ...ciContextKeys];

function isUnknownSetting(key: string): boolean {
  return !/[@:]/.test(key) && !cdkContextKeys.has(key) && !settingNames.includes(key);
}

function unknownSetting(key: string): string {
  const closest = closestMatch(key, settingNames);
  const hint = closest === undefined ? 'remove it or use a valid setting' : `did you mean "${closest}"?`;
  return `unknown setting "${key}": ${hint} (valid settings: ${settingNames.join(', ')})`;
}

type ParseResult = { ok: true; value: unknown } | { ok: false; expected: string };

function parseSetting(kind: SettingKind, raw: unknown): ParseResult {
  const text = String(raw).trim();
  switch (kind) {
    case 'text':
      return { ok: true, value: text };
    case 'list':
      // `-c instanceTypes=t3.small,t3a.small` on the command line, a JSON array in cdk.json.
      if (Array.isArray(raw)) return { ok: true, value: raw.map((item) => String(item).trim()) };
      if (text === '') return { ok: false, expected: 'a comma-separated list such as t3.small,t3a.small' };
      return { ok: true, value: text.split(',').map((item) => item.trim()) };
    case 'boolean':
      if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
      return { ok: false, expected: 'true or false' };
    case 'integer':
    case 'number': {
      const value = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(value)) return { ok: false, expected: kind === 'integer' ? 'a whole number' : 'a number' };
      return { ok: true, value };
    }
    case 'duration': {
      const duration = parseDuration(text);
      return duration ? { ok: true, value: duration } : { ok: false, expected: 'a duration such as 30, 30s, 5m, 2h or 7d' };
    }
  }
}

/** A duration as typed; a fraction of a second stays in milliseconds so that validation can say "must be whole seconds". */
function parseDuration(text: string): Duration | undefined {
  const ms = parseDurationMs(text);
  if (ms === undefined) return undefined;
  return ms % 1000 === 0 ? Duration.seconds(ms / 1000) : Duration.millis(ms);
}
