// The flag values AppConfig Data returns for an `AWS.AppConfig.FeatureFlags` profile: one object per
// flag, `{ "<flag>": { "enabled": true, "percentage": 25 } }` (the data plane flattens the hosted
// document's `values`, attributes beside `enabled`). A malformed entry is left out and named, so one
// bad flag never takes the others' values with it.
import type { FlagValue } from './flag-definition.ts';

export interface DeployedFlagValues {
  readonly values: ReadonlyMap<string, FlagValue>;
  /** What was wrong with the entries left out (or with the whole document). */
  readonly problems: readonly string[];
}

/** Parses a GetLatestConfiguration body; a document that is not a JSON object yields no values and one problem. */
export function parseDeployedFlagValues(text: string): DeployedFlagValues {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return { values: new Map(), problems: [`the configuration is not valid JSON: ${(error as Error).message}`] };
  }
  if (!isObject(document)) return { values: new Map(), problems: ['the configuration must be a JSON object of flags'] };
  const values = new Map<string, FlagValue>();
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(document)) {
    if (!isObject(entry) || typeof entry.enabled !== 'boolean') {
      problems.push(`flag ${name} must be an object with a boolean "enabled" (given ${JSON.stringify(entry)})`);
      continue;
    }
    const { percentage } = entry;
    if (percentage !== undefined && (typeof percentage !== 'number' || !Number.isFinite(percentage) || percentage < 0 || percentage > 100)) {
      problems.push(`flag ${name}: percentage must be a number between 0 and 100 (given ${JSON.stringify(percentage)})`);
      continue;
    }
    values.set(name, percentage === undefined ? { enabled: entry.enabled } : { enabled: entry.enabled, percentage });
  }
  return { values, problems };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
