// `sluice flags set <flag> --on|--off|--percent N`: the deployed document with only that flag's value
// changed, as a new hosted version, deployed and followed. Turning a flag off, and any change to a
// kill switch, goes out with the all-at-once strategy (no bake: off in seconds); every other change
// of a rollout with the gradual one, while AppConfig's alarm monitor watches.
//
// While the release gate (the environment's monitor) is in ALARM, AppConfig rolls back every new
// deployment — a kill switch's too, exactly when it is needed. A revert (StopDeployment with
// AllowRevert) ignores the monitors, so turning a flag off then reverts the deployment that turned it
// on, when that is the newest one and AppConfig still allows it (72 hours).
import type { FlagDefinition, FlagValue } from '../flag-definition.ts';
import { DeploymentInProgressError, type DeployedFlags, type EnvironmentState } from './appconfig-environment.ts';
import { deployFlagValue } from './deploy-flag-value.ts';
import type { FlagsCommandContext } from './flags-command-context.ts';
import { FlagsCliInputError } from './flags-cli-input-error.ts';
import { FlagsExitCode, type FlagsExitCodeValue } from './flags-exit-codes.ts';
import { firingAlarms } from './firing-alarms.ts';
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
  if (!next.enabled && context.releaseGateAlarmName !== undefined) {
    const firing = await firingAlarms(context.cloudWatch, [context.releaseGateAlarmName]);
    if (firing.length > 0) {
      const reverted = await revertTurningOn(flag, state, context, firing);
      if (reverted !== undefined) return reverted;
      progress(`${firing.join(', ')} in ALARM: AppConfig rolls back new deployments while its monitor fires, and the newest deployment is not one that turned ${flag.name} on (so there is none to revert); deploying anyway`);
    }
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

/** AppConfig reverts a COMPLETE deployment for this long after it completed, and refuses after. */
const REVERT_WINDOW_MS = 72 * 3_600_000;

/**
 * Reverts the newest deployment when it is the one that turned `flag` on from off (a `sluice flags set`
 * or the first ramp step, which change only that flag), so the flag is off again despite the firing
 * monitor; undefined when there is no such deployment to revert.
 */
async function revertTurningOn(flag: FlagDefinition, state: EnvironmentState, context: FlagsCommandContext, firing: readonly string[]): Promise<FlagsExitCodeValue | undefined> {
  const { environment, progress } = context;
  const deployed = state.deployed;
  if (deployed === undefined || state.latest?.DeploymentNumber !== deployed.deploymentNumber) return undefined;
  const deployment = await environment.getDeployment(deployed.deploymentNumber);
  const description = deployment.Description ?? '';
  // Descriptions as `set` and `ramp` write them: from off, or a ramp's first step from 0 %.
  const turnedOn = [`sluice flags set ${flag.name}: off`, `sluice flags ramp ${flag.name}: 0 % ->`].some((prefix) => description.startsWith(prefix));
  const completedAt = deployment.CompletedAt?.getTime();
  if (!turnedOn || completedAt === undefined || context.clock.now() - completedAt >= REVERT_WINDOW_MS) return undefined;
  progress(`${firing.join(', ')} in ALARM: AppConfig would roll a new deployment back, so reverting deployment ${deployed.deploymentNumber} (${deployment.Description}), which a monitor does not stop`);
  await environment.revert(deployed.deploymentNumber);
  const final = await environment.follow(deployed.deploymentNumber, (update) => progress(`deployment ${deployed.deploymentNumber} ${update.State}`));
  if (final.State !== 'REVERTED') {
    context.stderr(`sluice: reverting deployment ${deployed.deploymentNumber} ended ${final.State}, not REVERTED; ${flag.name} may still be on: check with sluice flags list`);
    return FlagsExitCode.putBackFailed;
  }
  progress(`${flag.name} is off: deployment ${deployed.deploymentNumber} REVERTED; every instance has it within one poll interval (15 s)`);
  return FlagsExitCode.success;
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
