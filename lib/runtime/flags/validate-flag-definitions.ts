// Checks the flag declarations (lib/runtime/app/flags.ts) before anything is built from them: at synth,
// so that a bad declaration fails `cdk synth` with every problem listed, and wherever else the
// declarations are read (the flags CLI). CDK-free: plain values in, problems out.
import { closestMatch, formatProblems, Problems } from '../problems.ts';
import type { FlagDefinition } from './flag-definition.ts';

/**
 * AppConfig's flag-key rule (the `AWS.AppConfig.FeatureFlags` schema's property pattern for `flags`
 * and `values`): a lower-case letter, then up to 63 letters, digits, `_` or `-`.
 */
export const FLAG_NAME_PATTERN = /^[a-z][a-zA-Z\d_-]{0,63}$/;

/**
 * AppConfig allows a flag description of 1024 characters; the hosted document appends the owner to
 * it (`… (owner: platform)`), so the declaration keeps room for that.
 */
export const MAX_DESCRIPTION_LENGTH = 900;
export const MAX_OWNER_LENGTH = 100;

const FLAG_KINDS = ['kill-switch', 'rollout'] as const;
const COMMON_FIELDS = ['name', 'description', 'owner', 'default', 'kind'] as const;
const KNOWN_FIELDS: readonly string[] = [...COMMON_FIELDS, 'percentage'];

/** Thrown when the flag declarations cannot be deployed; lists every problem. */
export class InvalidFlagDefinitionsError extends Error {
  constructor(readonly problems: readonly string[], source = 'lib/runtime/app/flags.ts') {
    super(`Invalid feature-flag declarations in ${source}:\n${formatProblems(problems)}`);
    this.name = 'InvalidFlagDefinitionsError';
  }
}

/** The declarations, checked: returns them typed, or throws one InvalidFlagDefinitionsError listing every problem. */
export function validateFlagDefinitions(declarations: readonly unknown[], source?: string): readonly FlagDefinition[] {
  const problems = flagDefinitionProblems(declarations);
  if (problems.length > 0) throw new InvalidFlagDefinitionsError(problems, source);
  return declarations as readonly FlagDefinition[];
}

/** Every problem with the declarations, each naming the flag (or its position when it has no usable name). */
export function flagDefinitionProblems(declarations: readonly unknown[]): string[] {
  const check = new Problems();
  if (!Array.isArray(declarations)) {
    check.add(`the flags must be an array of flag declarations (given ${describe(declarations)})`);
    return [...check.list];
  }
  declarations.forEach((declaration, index) => declarationProblems(check, declaration, index));
  duplicateNameProblems(check, declarations);
  return [...check.list];
}

function declarationProblems(check: Problems, declaration: unknown, index: number): void {
  if (declaration === null || typeof declaration !== 'object' || Array.isArray(declaration)) {
    check.add(`flags[${index}] must be an object with name, description, owner, default and kind (given ${describe(declaration)})`);
    return;
  }
  const flag = declaration as Record<string, unknown>;
  const label = typeof flag.name === 'string' && flag.name !== '' ? `flag "${flag.name}"` : `flags[${index}]`;
  const problem = (text: string) => check.add(`${label}: ${text}`);

  for (const field of Object.keys(flag).filter((key) => !KNOWN_FIELDS.includes(key))) {
    const closest = closestMatch(field, KNOWN_FIELDS);
    problem(`unknown field "${field}": ${closest === undefined ? 'remove it' : `did you mean "${closest}"?`} (fields: ${KNOWN_FIELDS.join(', ')})`);
  }

  if (typeof flag.name !== 'string' || !FLAG_NAME_PATTERN.test(flag.name)) {
    problem(`name must be a lower-case letter followed by up to 63 letters, digits, "_" or "-", AppConfig's flag-key rule (given ${describe(flag.name)})`);
  }
  textProblems(problem, 'description', flag.description, MAX_DESCRIPTION_LENGTH, 'what turning it on changes');
  textProblems(problem, 'owner', flag.owner, MAX_OWNER_LENGTH, 'the team or person to ask before changing it');
  if (typeof flag.owner === 'string' && /[\r\n]/.test(flag.owner)) problem('owner must be on one line');
  if (typeof flag.default !== 'boolean') {
    problem(`default must be true or false: false ships the code dark (given ${describe(flag.default)})`);
  }

  if (!(FLAG_KINDS as readonly unknown[]).includes(flag.kind)) {
    problem(`kind must be "kill-switch" (on or off for everyone) or "rollout" (on for a percentage of users) (given ${describe(flag.kind)})`);
  } else if (flag.kind === 'kill-switch') {
    if (flag.percentage !== undefined) {
      problem('percentage is only for a rollout: a kill switch is on or off for everyone (remove percentage, or make kind "rollout")');
    }
  } else if (flag.percentage === undefined) {
    problem('percentage is missing: a rollout needs the share of users it is on for, a number between 0 and 100 (0 ships it dark)');
  } else if (typeof flag.percentage !== 'number' || !Number.isFinite(flag.percentage) || flag.percentage < 0 || flag.percentage > 100) {
    problem(`percentage must be a number between 0 and 100 (given ${describe(flag.percentage)})`);
  }
}

function textProblems(problem: (text: string) => void, field: string, value: unknown, maxLength: number, what: string): void {
  if (typeof value !== 'string' || value.trim() === '') {
    problem(`${field} is missing: say ${what} (given ${describe(value)})`);
  } else if (value.length > maxLength) {
    problem(`${field} must be at most ${maxLength} characters (given ${value.length})`);
  }
}

function duplicateNameProblems(check: Problems, declarations: readonly unknown[]): void {
  const positions = new Map<string, number[]>();
  declarations.forEach((declaration, index) => {
    const name = (declaration as { name?: unknown } | null)?.name;
    if (typeof name === 'string') positions.set(name, [...(positions.get(name) ?? []), index]);
  });
  for (const [name, indexes] of positions) {
    if (indexes.length > 1) {
      check.add(`flag "${name}" is declared ${indexes.length} times (flags[${indexes.join('], flags[')}]): flag names must be unique, rename or remove all but one`);
    }
  }
}

/** A value as a problem shows it: strings quoted, the rest as JSON, `undefined` as "nothing". */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}
