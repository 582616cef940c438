// The `AWS.AppConfig.FeatureFlags` hosted-configuration document: built from the flag declarations
// (the stack's first version, and every version `sluice flags set` writes) and read back into flag
// values (`sluice flags list`). The shape follows AppConfig's documented type reference: `version`
// "1", `flags` (definitions with attribute constraints) and `values` (`enabled` plus attribute
// values), keyed by the flag name. CDK-free.
import { formatProblems, Problems } from '../problems.ts';
import type { FlagDefinition, FlagValue } from './flag-definition.ts';
import { FLAG_NAME_PATTERN, validateFlagDefinitions } from './validate-flag-definitions.ts';

/** The configuration profile type and the hosted version's content type. */
export const FEATURE_FLAGS_PROFILE_TYPE = 'AWS.AppConfig.FeatureFlags';
export const FEATURE_FLAGS_CONTENT_TYPE = 'application/json';

/** A rollout's share of users, as an attribute AppConfig itself keeps within 0–100 on every new version. */
export const PERCENTAGE_ATTRIBUTE = 'percentage';

export interface NumberConstraints {
  readonly type: 'number';
  readonly required?: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
}

export interface FeatureFlagDefinitionEntry {
  readonly name: string;
  readonly description: string;
  readonly attributes?: Readonly<Record<string, { readonly description?: string; readonly constraints?: NumberConstraints }>>;
}

export interface FeatureFlagsDocument {
  readonly version: '1';
  readonly flags: Readonly<Record<string, FeatureFlagDefinitionEntry>>;
  readonly values: Readonly<Record<string, FlagValue>>;
}

/** Thrown when a document or the values for one cannot be used; lists every problem. */
export class InvalidFeatureFlagsDocumentError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid AWS.AppConfig.FeatureFlags document:\n${formatProblems(problems)}`);
    this.name = 'InvalidFeatureFlagsDocumentError';
  }
}

/**
 * The hosted-configuration document for `definitions`. Each flag's value is `values[name]` when given
 * (the deployed value, or the one being set), else its declaration's: `enabled` = `default`, and a
 * rollout's declared `percentage`. Values of flags no longer declared are dropped. The output is
 * deterministic (declaration order, no timestamps), so the same declarations give the same document
 * and a redeploy of unchanged declarations changes nothing.
 */
export function featureFlagsDocument(
  definitions: readonly FlagDefinition[],
  values: Readonly<Record<string, FlagValue>> = {},
): FeatureFlagsDocument {
  validateFlagDefinitions(definitions);
  const check = new Problems();
  const flags: Record<string, FeatureFlagDefinitionEntry> = {};
  const documentValues: Record<string, FlagValue> = {};
  for (const definition of definitions) {
    const given = Object.hasOwn(values, definition.name) ? values[definition.name] : undefined;
    if (definition.kind === 'kill-switch') {
      flags[definition.name] = { name: definition.name, description: describeFlag(definition) };
      if (given?.percentage !== undefined) check.add(`flag "${definition.name}" is a kill switch: it takes no percentage (given ${given.percentage})`);
      documentValues[definition.name] = { enabled: given?.enabled ?? definition.default };
    } else {
      flags[definition.name] = {
        name: definition.name,
        description: describeFlag(definition),
        attributes: {
          [PERCENTAGE_ATTRIBUTE]: {
            description: 'Share of users it is on for while enabled, sticky per user (0-100)',
            constraints: { type: 'number', required: true, minimum: 0, maximum: 100 },
          },
        },
      };
      const percentage = given?.percentage ?? definition.percentage;
      check.numberInRange(`flag "${definition.name}" percentage`, percentage, 0, 100);
      documentValues[definition.name] = { enabled: given?.enabled ?? definition.default, percentage };
    }
  }
  check.throwIfAny((problems) => new InvalidFeatureFlagsDocumentError(problems));
  return { version: '1', flags, values: documentValues };
}

/** The document as the hosted configuration version's content. */
export function featureFlagsContent(document: FeatureFlagsDocument): string {
  return JSON.stringify(document, null, 2);
}

/**
 * The flag values of a hosted document (GetHostedConfigurationVersion's content, as bytes or text),
 * by flag name. A flag defined without a value is off. Throws one InvalidFeatureFlagsDocumentError
 * listing every way the document departs from the schema, so `sluice flags list` never shows a
 * value it misread.
 */
export function flagValuesFromDocument(content: string | Uint8Array): Record<string, FlagValue> {
  const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidFeatureFlagsDocumentError([`the content must be JSON (${(error as Error).message})`]);
  }
  const check = new Problems();
  if (!isObject(parsed)) {
    check.add('the document must be a JSON object with version, flags and values');
    check.throwIfAny((problems) => new InvalidFeatureFlagsDocumentError(problems));
  }
  const document = parsed as Record<string, unknown>;
  for (const key of Object.keys(document).filter((key) => !['version', 'flags', 'values'].includes(key))) {
    check.add(`unknown top-level key "${key}" (the schema allows version, flags and values)`);
  }
  check.check(document.version === '1', `version must be "1" (given ${JSON.stringify(document.version) ?? 'nothing'})`);
  const flags = document.flags ?? {};
  const values = document.values ?? {};
  check.check(isObject(flags), 'flags must be an object keyed by flag name');
  check.check(isObject(values), 'values must be an object keyed by flag name');
  if (!isObject(flags) || !isObject(values)) check.throwIfAny((problems) => new InvalidFeatureFlagsDocumentError(problems));

  const result: Record<string, FlagValue> = {};
  for (const name of Object.keys(flags as object)) {
    check.check(FLAG_NAME_PATTERN.test(name), `flag key "${name}" does not match AppConfig's flag-key rule`);
  }
  for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
    if (!Object.hasOwn(flags as object, name)) {
      check.add(`values has "${name}", which flags does not define`);
      continue;
    }
    if (!isObject(value) || typeof value.enabled !== 'boolean') {
      check.add(`values "${name}" must be an object with enabled true or false`);
      continue;
    }
    const percentage = value[PERCENTAGE_ATTRIBUTE];
    if (percentage !== undefined && (typeof percentage !== 'number' || !Number.isFinite(percentage) || percentage < 0 || percentage > 100)) {
      check.add(`values "${name}" percentage must be a number between 0 and 100 (given ${JSON.stringify(percentage)})`);
      continue;
    }
    result[name] = percentage === undefined ? { enabled: value.enabled } : { enabled: value.enabled, percentage };
  }
  // A defined flag without a value is off, as the client treats a flag it cannot read.
  for (const name of Object.keys(flags as object)) result[name] ??= { enabled: false };
  check.throwIfAny((problems) => new InvalidFeatureFlagsDocumentError(problems));
  return result;
}

/** The AppConfig description: the declaration's, with the owner, so the console shows whom to ask. */
function describeFlag(definition: FlagDefinition): string {
  return `${definition.description} (owner: ${definition.owner})`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
