import { Duration } from 'aws-cdk-lib';
import { parseDurationMs } from '../runtime/duration.ts';
import type { StageConfig } from './stage-config.ts';

type SettingKind = 'integer' | 'number' | 'duration' | 'text' | 'boolean';

/**
 * How each setting is written on the command line. Typed over every key of StageConfig, so a new
 * setting cannot be added without saying how to override it.
 */
const settingKinds: Record<Exclude<keyof StageConfig, 'stageName'>, SettingKind> = {
  protectData: 'boolean',
  queueConsumer: 'text',
  instanceType: 'text',
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
  alarmEmail: 'text',
  artifactInfrequentAccessDays: 'integer',
  artifactNoncurrentRetentionDays: 'integer',
};

export const overridableSettings = Object.keys(settingKinds) as (keyof typeof settingKinds)[];

export interface ParsedOverrides {
  readonly overrides: Partial<StageConfig>;
  readonly problems: string[];
}

/**
 * Reads `-c <setting>=<value>` overrides. Context values arrive as strings from the command line
 * and as JSON values from cdk.json; both are accepted. Durations are seconds, or a number with a
 * unit: `500ms`, `30s`, `5m`, `2h`, `7d`.
 */
export function parseSettingOverrides(lookup: (key: string) => unknown): ParsedOverrides {
  const overrides: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of overridableSettings) {
    const raw = lookup(name);
    if (raw === undefined) continue;
    const parsed = parseSetting(settingKinds[name], raw);
    if (parsed.ok) overrides[name] = parsed.value;
    else problems.push(`${name} must be ${parsed.expected} (given ${JSON.stringify(raw)})`);
  }
  return { overrides: overrides as Partial<StageConfig>, problems };
}

type ParseResult = { ok: true; value: unknown } | { ok: false; expected: string };

function parseSetting(kind: SettingKind, raw: unknown): ParseResult {
  const text = String(raw).trim();
  switch (kind) {
    case 'text':
      return { ok: true, value: text };
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
