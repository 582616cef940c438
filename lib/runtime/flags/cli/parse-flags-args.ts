// The command line of `sluice flags list|set|ramp`, read the way the other CLIs read theirs:
// node:util parseArgs, every problem at once, and a flag name checked against the flag file before
// anything is looked up or written.
import { parseCommandLine, problemsMessage } from '../../command-line.ts';
import { parseDurationMs } from '../../duration.ts';
import { closestMatch, Problems } from '../../problems.ts';
import { STAGE_NAME_PATTERN, stackName } from '../../stack-contract.ts';
import type { FlagDefinition } from '../flag-definition.ts';
import { FlagsCliInputError } from './flags-cli-input-error.ts';

/** AppConfig ids and the gate alarm given on the command line; the stack outputs fill in the rest. */
export interface FlagsTargetOverrides {
  readonly applicationId?: string;
  readonly environmentId?: string;
  readonly configurationProfileId?: string;
  readonly allAtOnceStrategyId?: string;
  readonly gradualStrategyId?: string;
  readonly releaseGateAlarmName?: string;
}

interface CommonFlagsArgs {
  readonly stage: string;
  readonly stackName: string;
  readonly region?: string;
  readonly overrides: FlagsTargetOverrides;
}

export interface FlagsListArgs extends CommonFlagsArgs {
  readonly command: 'list';
  readonly json: boolean;
}

/** What `set` asks for: on, off, or on for a percentage of users (rollouts only). */
export type FlagChange = { readonly kind: 'on' } | { readonly kind: 'off' } | { readonly kind: 'percent'; readonly percentage: number };

export interface FlagsSetArgs extends CommonFlagsArgs {
  readonly command: 'set';
  readonly flag: FlagDefinition;
  readonly change: FlagChange;
}

export interface FlagsRampArgs extends CommonFlagsArgs {
  readonly command: 'ramp';
  readonly flag: FlagDefinition;
  /** Strictly increasing percentages, each above 0 and at most 100. */
  readonly steps: readonly number[];
  readonly everyMs: number;
  /** Watched beside the release gate, before each step. */
  readonly alarmNames: readonly string[];
}

export type FlagsCliArgs = FlagsListArgs | FlagsSetArgs | FlagsRampArgs | { readonly command: 'help' };

/** The flag commands in a few lines, for `sluice --help`. */
export const flagsCommandsSummary = `Feature flags (sluice flags --help for the options):
  sluice flags list [--stage S]                         each flag's deployed value, and any deployment in progress
  sluice flags set <flag> --on|--off|--percent N        deploy one flag's new value (off and kill switches: all at once)
  sluice flags ramp <flag> --steps 1,5,25,100 --every 10m [--alarm NAME]
                                                        raise a rollout step by step while the alarms stay OK`;

export const flagsUsage = `Usage:
  sluice flags list [options]                  each flag's deployed value, and any deployment in progress
  sluice flags set <flag> --on|--off|--percent N [options]
                                               a new hosted configuration version with only that flag changed,
                                               deployed and followed to COMPLETE or ROLLED_BACK
  sluice flags ramp <flag> --steps LIST --every D [--alarm NAME]... [options]
                                               raise a rollout through LIST, waiting D between steps; the
                                               release gate (and each --alarm) must be OK before each step,
                                               and the previous percentage is put back when one fires

Options:
  --on | --off               (set) turn the flag on or off for everyone in its percentage; --off is all at once
  --percent N                (set) a rollout on for N % of users (0–100, up to 2 decimals)
  --steps 1,5,25,100         (ramp) percentages, strictly increasing, each above 0 and at most 100
  --every D                  (ramp) time between steps, e.g. 10m, 30s, 1h (at least 1s)
  --alarm NAME               (ramp) watch this CloudWatch alarm too (repeatable)
  --stage S                  stage whose stack to read (default: dev; stack sluice-<stage>)
  --region R                 AWS region (default: the SDK's, e.g. $AWS_REGION)
  --stack-name NAME          read outputs from this stack instead of sluice-<stage>
  --application-id, --environment-id, --configuration-profile-id,
  --all-at-once-strategy-id, --gradual-strategy-id, --release-gate-alarm
                             use this value instead of the stack output
  --json                     (list) one JSON object on stdout

A rerun of a ramp that was stopped starts from the first step above the deployed percentage.
Exit codes: 0 done (or nothing to change); 1 rolled back, the flag is where it was;
            2 putting the previous percentage back failed, look now; 3 bad input (nothing written);
            4 another deployment is in progress in the environment (nothing written).`;

/** Reads `sluice flags …` (argv without "flags") against the declared flags; every problem at once. */
export function parseFlagsArgs(argv: readonly string[], definitions: readonly FlagDefinition[]): FlagsCliArgs {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, flagsUsage, (message) => new FlagsCliInputError(message));
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return { command: 'help' };
  if (command !== 'list' && command !== 'set' && command !== 'ramp') {
    throw new FlagsCliInputError(`unknown command "flags ${command}": use "sluice flags list", "sluice flags set <flag> …" or "sluice flags ramp <flag> …"\n\n${flagsUsage}`);
  }
  const problems = new Problems();
  const stage = values.stage ?? 'dev';
  problems.matches('--stage', stage, STAGE_NAME_PATTERN, 'a stage name such as dev or prod');
  const common: CommonFlagsArgs = {
    stage,
    stackName: values['stack-name'] ?? stackName(stage),
    ...(values.region !== undefined ? { region: values.region } : {}),
    overrides: overridesOf(values),
  };
  const setOnly = values.on !== undefined || values.off !== undefined || values.percent !== undefined;
  const rampOnly = values.steps !== undefined || values.every !== undefined || values.alarm !== undefined;

  if (command === 'list') {
    problems.check(rest.length === 0, `flags list takes no arguments (given "${rest.join(' ')}")`);
    problems.check(!setOnly && !rampOnly, 'flags list takes no --on, --off, --percent, --steps, --every or --alarm');
    problems.throwIfAny(badInput);
    return { command, ...common, json: values.json ?? false };
  }

  problems.check(values.json === undefined, `--json is a list option; flags ${command} prints its progress`);
  const flag = declaredFlag(command, rest, definitions, problems);
  if (command === 'set') {
    problems.check(!rampOnly, 'flags set takes no --steps, --every or --alarm (they are ramp options)');
    const change = changeOf(values, flag, problems);
    problems.throwIfAny(badInput);
    return { command, ...common, flag: flag!, change: change! };
  }

  problems.check(!setOnly, 'flags ramp takes no --on, --off or --percent: it raises the percentage through --steps');
  if (flag !== undefined && flag.kind !== 'rollout') problems.add(`flag ${flag.name} is a kill switch (on or off for everyone): it has no percentage to ramp; use sluice flags set ${flag.name} --on`);
  const steps = stepsOf(values.steps, problems);
  const everyMs = values.every === undefined ? undefined : parseDurationMs(values.every);
  if (values.every === undefined) problems.add('flags ramp needs --every, the time between steps, e.g. --every 10m');
  else if (everyMs === undefined || everyMs < 1000) problems.add(`--every must be a duration of at least 1s such as 30s, 10m or 1h (given "${values.every}")`);
  for (const name of values.alarm ?? []) problems.check(name.trim() !== '', '--alarm must name a CloudWatch alarm (given "")');
  problems.throwIfAny(badInput);
  return { command, ...common, flag: flag!, steps: steps!, everyMs: everyMs!, alarmNames: [...new Set(values.alarm ?? [])] };
}

/** "1,5,25,100" → [1, 5, 25, 100], with the problem named when a step is out of range or out of order. */
function stepsOf(text: string | undefined, problems: Problems): number[] | undefined {
  if (text === undefined) {
    problems.add('flags ramp needs --steps, the percentages to go through, e.g. --steps 1,5,25,100');
    return undefined;
  }
  const parts = text.split(',').map((part) => part.trim());
  const steps = parts.map(Number);
  const bad = parts.filter((part, index) => !isPercentText(part) || steps[index]! <= 0 || steps[index]! > 100);
  if (bad.length > 0) {
    problems.add(`--steps must be percentages above 0 and at most 100 with up to 2 decimals, separated by commas (given "${text}"; not valid: ${bad.map((part) => `"${part}"`).join(', ')})`);
    return undefined;
  }
  if (steps.some((step, index) => index > 0 && step <= steps[index - 1]!)) {
    problems.add(`--steps must be strictly increasing, e.g. 1,5,25,100 (given "${text}")`);
    return undefined;
  }
  return steps;
}

function changeOf(values: { on?: boolean; off?: boolean; percent?: string }, flag: FlagDefinition | undefined, problems: Problems): FlagChange | undefined {
  const given = [values.on ? '--on' : undefined, values.off ? '--off' : undefined, values.percent !== undefined ? '--percent' : undefined].filter((option) => option !== undefined);
  if (given.length !== 1) {
    problems.add(given.length === 0 ? 'flags set needs one of --on, --off or --percent N' : `flags set takes one of --on, --off or --percent N (given ${given.join(' and ')})`);
    return undefined;
  }
  if (values.on) return { kind: 'on' };
  if (values.off) return { kind: 'off' };
  const text = values.percent!;
  const percentage = Number(text);
  if (!isPercentText(text) || percentage < 0 || percentage > 100) {
    problems.add(`--percent must be a number between 0 and 100 with up to 2 decimals (given "${text}")`);
    return undefined;
  }
  if (flag !== undefined && flag.kind !== 'rollout') {
    problems.add(`flag ${flag.name} is a kill switch (on or off for everyone): use --on or --off, not --percent`);
    return undefined;
  }
  return { kind: 'percent', percentage };
}

/** The flag named by the one positional argument, which must be declared in the flag file. */
function declaredFlag(command: string, rest: readonly string[], definitions: readonly FlagDefinition[], problems: Problems): FlagDefinition | undefined {
  if (rest.length !== 1) {
    problems.add(rest.length === 0 ? `flags ${command} needs the flag's name, e.g. sluice flags ${command} ${definitions[0]?.name ?? '<flag>'} …` : `flags ${command} takes one flag name (given "${rest.join(' ')}")`);
    return undefined;
  }
  const name = rest[0]!;
  const flag = definitions.find((definition) => definition.name === name);
  if (flag === undefined) {
    const names = definitions.map((definition) => definition.name);
    const suggestion = closestMatch(name, names);
    problems.add(`unknown flag "${name}"${suggestion ? `: did you mean "${suggestion}"?` : ''} (declared in lib/runtime/app/flags.ts: ${names.join(', ') || 'none'})`);
  }
  return flag;
}

function isPercentText(text: string): boolean {
  return /^\d{1,3}(\.\d{1,2})?$/.test(text);
}

function overridesOf(values: Record<string, unknown>): FlagsTargetOverrides {
  const pick = (option: string) => (typeof values[option] === 'string' ? (values[option] as string) : undefined);
  const entries = {
    applicationId: pick('application-id'),
    environmentId: pick('environment-id'),
    configurationProfileId: pick('configuration-profile-id'),
    allAtOnceStrategyId: pick('all-at-once-strategy-id'),
    gradualStrategyId: pick('gradual-strategy-id'),
    releaseGateAlarmName: pick('release-gate-alarm'),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

/** The command's own flags, beside STAGE_FLAGS. */
const OPTIONS = {
  on: { type: 'boolean' },
  off: { type: 'boolean' },
  percent: { type: 'string' },
  steps: { type: 'string' },
  every: { type: 'string' },
  alarm: { type: 'string', multiple: true },
  'application-id': { type: 'string' },
  'environment-id': { type: 'string' },
  'configuration-profile-id': { type: 'string' },
  'all-at-once-strategy-id': { type: 'string' },
  'gradual-strategy-id': { type: 'string' },
  'release-gate-alarm': { type: 'string' },
} as const;

function badInput(problems: readonly string[]): FlagsCliInputError {
  return new FlagsCliInputError(problemsMessage(problems));
}

