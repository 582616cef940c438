// The hosted `AWS.AppConfig.FeatureFlags` document as the control plane stores it: `version`,
// `flags` (definitions) and `values` (per flag `enabled` and its attributes, e.g. `percentage`).
// `sluice flags set` changes one flag's value in the deployed document and keeps every other byte of
// meaning (other flags, their values, definitions, fields it does not know) as it was.
import type { FlagValue } from '../flag-definition.ts';
import { FlagsError } from '../flags-error.ts';

export interface HostedFlagsDocument {
  readonly version: string;
  readonly flags: Readonly<Record<string, unknown>>;
  readonly values: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly [field: string]: unknown;
}

/** Reads a hosted version's content; a document that is not a feature-flag document is an error naming the version. */
export function parseHostedFlagsDocument(text: string, where: string): HostedFlagsDocument {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new FlagsError(`${where} is not JSON (${(error as Error).message}); deploy the stack again to restore the flag document`, 'BadDocument');
  }
  const record = document as Record<string, unknown> | null;
  if (typeof record !== 'object' || record === null || Array.isArray(record) || typeof record.version !== 'string') {
    throw new FlagsError(`${where} is not an AWS.AppConfig.FeatureFlags document (no "version"); deploy the stack again to restore it`, 'BadDocument');
  }
  return { ...record, version: record.version, flags: objectOr(record.flags), values: objectOr(record.values) as HostedFlagsDocument['values'] };
}

/** The flag's value in the document; undefined when the document does not define the flag. */
export function flagValueIn(document: HostedFlagsDocument, flag: string): FlagValue | undefined {
  if (!Object.hasOwn(document.flags, flag)) return undefined;
  const value = document.values[flag] ?? {};
  const percentage = typeof value.percentage === 'number' ? value.percentage : undefined;
  return percentage === undefined ? { enabled: value.enabled === true } : { enabled: value.enabled === true, percentage };
}

/** The document's JSON with only `flag`'s `enabled` (and `percentage`, when given) replaced. */
export function withFlagValue(document: HostedFlagsDocument, flag: string, value: FlagValue): string {
  const values = { ...document.values, [flag]: { ...document.values[flag], ...value } };
  return JSON.stringify({ ...document, values });
}

/** "off", "on", or "on for 25 %" (a rollout). */
export function describeFlagValue(value: FlagValue | undefined, kind: 'kill-switch' | 'rollout'): string {
  if (value === undefined) return 'not deployed';
  if (!value.enabled) return kind === 'rollout' && value.percentage !== undefined ? `off (${value.percentage} % when on)` : 'off';
  return kind === 'rollout' ? `on for ${value.percentage ?? 100} %` : 'on';
}

/** The share of users a value reaches: 0 when off. */
export function effectivePercentage(value: FlagValue | undefined): number {
  if (value === undefined || !value.enabled) return 0;
  return value.percentage ?? 100;
}

function objectOr(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
