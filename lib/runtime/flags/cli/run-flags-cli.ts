// `sluice flags list|set|ramp`: reads the stage's AppConfig ids from its stack (or flags), then lists,
// sets or ramps. Never throws: every outcome is an exit code (FlagsExitCode) and a message that says
// what to do. Whatever fails before the first write is bad input; nothing was changed then.
import type { AppConfigClient } from '@aws-sdk/client-appconfig';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Clock } from '../../clock.ts';
import { FlagsStackOutputs, StackOutputs } from '../../stack-contract.ts';
import { readStackOutputs, StackNotFoundError } from '../../stack-outputs.ts';
import type { FlagDefinition } from '../flag-definition.ts';
import { FlagsError } from '../flags-error.ts';
import { AppConfigFlagsEnvironment, DeploymentInProgressError, type FlagsTarget } from './appconfig-environment.ts';
import { FlagsCliInputError } from './flags-cli-input-error.ts';
import { type FlagsCommandContext, progressPrinter } from './flags-command-context.ts';
import { FlagsExitCode, type FlagsExitCodeValue } from './flags-exit-codes.ts';
import { listFlags } from './list-flags.ts';
import { type FlagsListArgs, type FlagsRampArgs, type FlagsSetArgs, flagsUsage, parseFlagsArgs } from './parse-flags-args.ts';
import { rampFlag } from './ramp-flag.ts';
import { setFlag } from './set-flag.ts';

export interface FlagsCliClients {
  readonly cloudFormation: CloudFormationClient;
  readonly appConfig: AppConfigClient;
  readonly cloudWatch: CloudWatchClient;
}

/** What the flags CLI needs from the outside world; bin/sluice.ts passes the real ones, tests simulations. */
export interface FlagsCliEnvironment {
  readonly clients: (region: string | undefined) => FlagsCliClients;
  /** The declared flags (lib/runtime/app/flags.ts): names, kinds and owners are checked against them. */
  readonly definitions: readonly FlagDefinition[];
  readonly clock: Clock;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

/** Runs `sluice flags …` (argv after "flags") and returns its exit code; never throws. */
export async function runFlagsCli(argv: readonly string[], cli: FlagsCliEnvironment): Promise<FlagsExitCodeValue> {
  let environment: AppConfigFlagsEnvironment | undefined;
  try {
    const args = parseFlagsArgs(argv, cli.definitions);
    if (args.command === 'help') {
      cli.stdout(flagsUsage);
      return FlagsExitCode.success;
    }
    const clients = cli.clients(args.region);
    const { target, releaseGateAlarmName } = await resolveTarget(args, clients, cli.clock);
    environment = new AppConfigFlagsEnvironment(clients.appConfig, target, cli.clock);
    const context: FlagsCommandContext = {
      environment,
      cloudWatch: clients.cloudWatch,
      ...(releaseGateAlarmName !== undefined ? { releaseGateAlarmName } : {}),
      clock: cli.clock,
      stdout: cli.stdout,
      stderr: cli.stderr,
      progress: progressPrinter(cli.clock, cli.stdout),
    };
    if (args.command === 'list') return await listFlags(args, context, cli.definitions);
    if (args.command === 'set') return await setFlag(args, context);
    return await rampFlag(args, context);
  } catch (error) {
    const written = environment?.hasWritten === true;
    if (error instanceof DeploymentInProgressError) {
      cli.stderr(`sluice: ${error.message}${written ? ' (the new hosted version was created but not deployed)' : '; nothing was changed'}`);
      return FlagsExitCode.deploymentInProgress;
    }
    // Before the first hosted version, whatever failed changed nothing: bad input, with what to check.
    if (!written) {
      const message = error instanceof Error ? error.message : String(error);
      cli.stderr(`sluice: ${message}${error instanceof FlagsCliInputError || /nothing was changed/.test(message) ? '' : '; nothing was changed'}`);
      return FlagsExitCode.badInput;
    }
    const message = error instanceof FlagsError ? error.message : `flags command failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`;
    cli.stderr(`sluice: ${message}; the flag may be mid-change: sluice flags list shows what is deployed`);
    return FlagsExitCode.putBackFailed;
  }
}

const TARGET_OUTPUTS: ReadonlyArray<readonly [keyof FlagsTarget, string, string]> = [
  ['applicationId', FlagsStackOutputs.applicationId, '--application-id'],
  ['environmentId', FlagsStackOutputs.environmentId, '--environment-id'],
  ['configurationProfileId', FlagsStackOutputs.configurationProfileId, '--configuration-profile-id'],
  ['allAtOnceStrategyId', FlagsStackOutputs.allAtOnceStrategyId, '--all-at-once-strategy-id'],
  ['gradualStrategyId', FlagsStackOutputs.gradualStrategyId, '--gradual-strategy-id'],
];

/** Flags first; DescribeStacks only when one is missing. */
async function resolveTarget(args: FlagsListArgs | FlagsSetArgs | FlagsRampArgs, clients: FlagsCliClients, clock: Clock): Promise<{ target: FlagsTarget; releaseGateAlarmName?: string }> {
  const overrides: Record<string, string | undefined> = { ...args.overrides };
  const needsGate = args.command === 'ramp';
  const complete = TARGET_OUTPUTS.every(([key]) => overrides[key] !== undefined) && (!needsGate || overrides.releaseGateAlarmName !== undefined);
  let outputs: Record<string, string> = {};
  if (!complete) {
    try {
      outputs = await readStackOutputs(clients.cloudFormation, args.stackName, { clock });
    } catch (error) {
      if (error instanceof StackNotFoundError) throw new FlagsCliInputError(error.message.replace('pass every output as a flag', 'pass --application-id, --environment-id, --configuration-profile-id and both strategy ids'));
      throw error;
    }
  }
  const target: Record<string, string> = {};
  const missing: Array<readonly [string, string]> = [];
  for (const [key, output, flag] of TARGET_OUTPUTS) {
    const value = overrides[key] ?? outputs[output];
    if (value === undefined) missing.push([output, flag]);
    else target[key] = value;
  }
  const releaseGateAlarmName = overrides.releaseGateAlarmName ?? outputs[StackOutputs.releaseGateAlarmName];
  if (needsGate && releaseGateAlarmName === undefined) missing.push([StackOutputs.releaseGateAlarmName, '--release-gate-alarm']);
  if (missing.length > 0) {
    throw new FlagsCliInputError(
      `stack ${args.stackName} has no output ${missing.map(([output]) => output).join(', ')}: deploy the current stack (npx cdk deploy -c stage=${args.stage}) or pass ${missing.map(([, flag]) => flag).join(', ')}`,
    );
  }
  return { target: target as unknown as FlagsTarget, ...(releaseGateAlarmName !== undefined ? { releaseGateAlarmName } : {}) };
}
