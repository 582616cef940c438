// `sluice flags set <flag> --on|--off|--percent N`: the deployed document with only that flag's value
// changed, as a new hosted version, deployed and followed. Turning a flag off, and any change to a
// kill switch, goes out with the all-at-once strategy (no bake: off in seconds); every other change
// of a rollout with the gradual one, while AppConfig's alarm monitor watches.
import type { FlagDefinition, FlagValue } from '../flag-definition.ts';
import { DeploymentInProgressError, type DeployedFlags, type EnvironmentState } from './appconfig-environment.ts';
import { deployFlagValue } from './deploy-flag-value.ts';
import type { FlagsCommandContext } from './flags-command-context.ts';
import { FlagsCliInputError } from './flags-cli-input-error.ts';
import { FlagsExitCode, type FlagsExitCodeValue } from './flags-exit-codes.ts';
import { describeFlagValue, flagValueIn } from './hosted-flags-document.ts';
import type { FlagChange, FlagsSetArgs } from './parse-flags-args.ts';

export async function setFlag(args: FlagsSetArgs, context: FlagsCommandContext): Promise<FlagsExitCodeValue> {
  const { environment, progress } = context;
  const flag = args.flag;
  const state = await environment.readState();
  if (state.inProgress) {
    throw new DeploymentInProgressError(state.inProgress.DeploymentNumber, `${state.inProgress.State} ${state.inProgress.PercentageComplete ?? 0} % (configuration version ${state.inProgress.ConfigurationVersion})`);
  }
  const { deployed, current } = requireDeployedValue(state, flag, args.stackName);
  const next = nextValue(current, args.change);
  const from = describeFlagValue(current, flag.kind);
  const to = describeFlagValue(next, flag.kind);
  if (current.enabled === next.enabled && current.percentage === next.percentage) {
    context.stdout(`${flag.name} is already ${to} in ${args.stackName}; nothing to change`);
    return FlagsExitCode.success;
  }
  const strategy = flag.kind === 'kill-switch' || !next.enabled ? 'all-at-once' : 'gradual';
  progress(`${flag.name}: ${from} -> ${to} (${args.stackName}, ${strategy})`);
  const outcome = await deployFlagValue({ environment, deployed, flag, value: next, strategy, description: `sluice flags set ${flag.name}: ${from} -> ${to}`, progress });
  if (outcome.kind === 'complete') {
    progress(`${flag.name} is ${to}: deployment ${outcome.deploymentNumber} COMPLETE; every instance has it within one poll interval (15 s)`);
    return FlagsExitCode.success;
  }
  context.stderr(`sluice: AppConfig rolled deployment ${outcome.deploymentNumber} back (${outcome.state}: ${outcome.reason}); ${flag.name} is still ${from}`);
  return FlagsExitCode.rolledBack;
}

/** The deployed document and the flag's value in it; bad input (nothing written) when either is missing. */
export function requireDeployedValue(state: EnvironmentState, flag: FlagDefinition, stack: string): { deployed: DeployedFlags; current: FlagValue } {
  const stage = stack.replace(/^sluice-/, '');
  if (state.deployed === undefined) {
    throw new FlagsCliInputError(`no flag configuration has been deployed to ${stack} yet: deploy the stack (npx cdk deploy -c stage=${stage}), which deploys the flag file's values`);
  }
  const current = flagValueIn(state.deployed.document, flag.name);
  if (current === undefined) {
    throw new FlagsCliInputError(`flag ${flag.name} is declared in the flag file but not in the deployed configuration (version ${state.deployed.version}): deploy the stack first (npx cdk deploy -c stage=${stage})`);
  }
  return { deployed: state.deployed, current };
}

function nextValue(current: FlagValue, change: FlagChange): FlagValue {
  if (change.kind === 'percent') return { enabled: true, percentage: change.percentage };
  return { ...current, enabled: change.kind === 'on' };
}
