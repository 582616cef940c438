// `sluice flags ramp <flag> --steps 1,5,25,100 --every 10m`: raises a rollout one step at a time with
// the gradual strategy, the release gate (and each --alarm) checked before every step and while it
// waits between steps. When one fires, the step the flag sits at is reverted (StopDeployment with
// AllowRevert), which puts the previous percentage back even while the alarm fires. The deployed
// value is the truth: a rerun after the CLI was killed waits for a deployment it left running, then
// starts from the first step above the deployed percentage.
import { formatDuration } from '../../duration.ts';
import type { DeployedFlags, EnvironmentState } from './appconfig-environment.ts';
import { deployFlagValue, lastEvent } from './deploy-flag-value.ts';
import { firingAlarms } from './firing-alarms.ts';
import type { FlagsCommandContext } from './flags-command-context.ts';
import { FlagsCliInputError } from './flags-cli-input-error.ts';
import { FlagsExitCode, type FlagsExitCodeValue } from './flags-exit-codes.ts';
import { describeFlagValue, effectivePercentage, flagValueIn } from './hosted-flags-document.ts';
import type { FlagsRampArgs } from './parse-flags-args.ts';
import { requireDeployedValue } from './set-flag.ts';

/** How often the alarms are looked at while a ramp waits between steps. */
const ALARM_CHECK_INTERVAL_MS = 30_000;

/** Ramp steps' deployments carry this description, so that a rerun knows which step it may put back. */
export function rampDescription(flag: string, from: number, to: number): string {
  return `sluice flags ramp ${flag}: ${from} % -> ${to} %`;
}

export async function rampFlag(args: FlagsRampArgs, context: FlagsCommandContext): Promise<FlagsExitCodeValue> {
  const { environment, progress } = context;
  const flag = args.flag;
  if (context.releaseGateAlarmName === undefined) throw new FlagsCliInputError('the ramp needs the release gate alarm: deploy the current stack (output ReleaseGateAlarmName) or pass --release-gate-alarm');
  const alarms = [context.releaseGateAlarmName, ...args.alarmNames];
  // Unknown alarm names are refused here, before anything is written.
  await firingAlarms(context.cloudWatch, alarms);

  let state = await waitForQuiet(context);
  let deployed = requireDeployedValue(state, flag, args.stackName).deployed;
  progress(`ramp ${flag.name} through ${args.steps.join(', ')} %, every ${formatDuration(args.everyMs)}; now ${describeFlagValue(flagValueIn(deployed.document, flag.name), flag.kind)}; watching ${alarms.join(', ')}`);
  for (;;) {
    const current = effectivePercentage(flagValueIn(deployed.document, flag.name));
    const firing = await firingAlarms(context.cloudWatch, alarms);
    if (firing.length > 0) return putBack(args, context, state, deployed, firing);
    const next = args.steps.find((step) => step > current);
    if (next === undefined) {
      progress(`${flag.name} is on for ${current} %: the ramp is done`);
      return FlagsExitCode.success;
    }
    progress(`step ${current} % -> ${next} %`);
    const outcome = await deployFlagValue({
      environment,
      deployed,
      flag,
      value: { enabled: true, percentage: next },
      strategy: 'gradual',
      description: rampDescription(flag.name, current, next),
      progress,
    });
    if (outcome.kind === 'rolled-back') {
      context.stderr(`sluice: AppConfig rolled deployment ${outcome.deploymentNumber} back (${outcome.state}: ${outcome.reason}); ${flag.name} stays on for ${current} %. Find out why before ramping again.`);
      return FlagsExitCode.rolledBack;
    }
    state = await environment.readState();
    deployed = requireDeployedValue(state, flag, args.stackName).deployed;
    if (next === args.steps.at(-1)) continue;
    progress(`on for ${next} %; next step in ${formatDuration(args.everyMs)}`);
    const firingWhileWaiting = await waitWatching(context, alarms, args.everyMs);
    if (firingWhileWaiting.length > 0) return putBack(args, context, state, deployed, firingWhileWaiting);
    // Whatever happened meanwhile (someone else's `set`), the next step starts from what is deployed.
    state = await environment.readState();
    deployed = requireDeployedValue(state, flag, args.stackName).deployed;
  }
}

/** A deployment left running (by a killed ramp, or anyone) is followed to its end before the ramp reads the deployed value. */
async function waitForQuiet(context: FlagsCommandContext): Promise<EnvironmentState> {
  let state = await context.environment.readState();
  while (state.inProgress?.DeploymentNumber !== undefined) {
    const number = state.inProgress.DeploymentNumber;
    context.progress(`deployment ${number} is in progress (${state.inProgress.State}); waiting for it to end before the ramp reads the deployed value`);
    await context.environment.follow(number, (deployment) => context.progress(`deployment ${number} ${deployment.State} ${deployment.PercentageComplete ?? 0} %`));
    state = await context.environment.readState();
  }
  return state;
}

/** Sleeps `totalMs`, looking at the alarms every 30 seconds; returns the firing ones as soon as there are any. */
async function waitWatching(context: FlagsCommandContext, alarms: readonly string[], totalMs: number): Promise<string[]> {
  const until = context.clock.now() + totalMs;
  for (;;) {
    const left = until - context.clock.now();
    if (left <= 0) return [];
    await context.clock.sleep(Math.min(left, ALARM_CHECK_INTERVAL_MS));
    const firing = await firingAlarms(context.cloudWatch, alarms);
    if (firing.length > 0) return firing;
  }
}

/**
 * An alarm fired. If the flag sits at a ramp step (the profile's newest deployment is a COMPLETE ramp
 * step of this flag), that deployment is reverted and followed; otherwise the ramp changed nothing
 * and stops where the flag is.
 */
async function putBack(args: FlagsRampArgs, context: FlagsCommandContext, state: EnvironmentState, deployed: DeployedFlags, firing: readonly string[]): Promise<FlagsExitCodeValue> {
  const { environment, progress } = context;
  const flag = args.flag;
  const now = describeFlagValue(flagValueIn(deployed.document, flag.name), flag.kind);
  const latest = state.latest;
  const isOurStep = latest?.DeploymentNumber === deployed.deploymentNumber
    && (await environment.getDeployment(deployed.deploymentNumber)).Description?.startsWith(`sluice flags ramp ${flag.name}:`) === true;
  if (!isOurStep) {
    context.stderr(`sluice: ${firing.join(', ')} in ALARM: the ramp stops; ${flag.name} stays ${now} (the newest deployment is not a ramp step of this flag, so there is nothing of the ramp's to put back)`);
    return FlagsExitCode.rolledBack;
  }
  progress(`${firing.join(', ')} in ALARM: reverting deployment ${deployed.deploymentNumber} to put the previous percentage back`);
  try {
    await environment.revert(deployed.deploymentNumber);
    const final = await environment.follow(deployed.deploymentNumber, (deployment) => progress(`deployment ${deployed.deploymentNumber} ${deployment.State}`));
    if (final.State !== 'REVERTED') throw new Error(`deployment ${deployed.deploymentNumber} ended ${final.State}, not REVERTED: ${lastEvent(final)}`);
    const after = await environment.readState();
    const value = after.deployed ? flagValueIn(after.deployed.document, flag.name) : undefined;
    context.stderr(`sluice: ${firing.join(', ')} fired during the ramp; ${flag.name} was put back from ${now} to ${describeFlagValue(value, flag.kind)}. Rerun the same ramp once the alarm is OK and its cause understood.`);
    return FlagsExitCode.rolledBack;
  } catch (error) {
    context.stderr(`sluice: ${firing.join(', ')} fired and putting ${flag.name} back failed: ${error instanceof Error ? error.message : String(error)}; it is still ${now}. Turn it off now: sluice flags set ${flag.name} --off --stage ${args.stage}`);
    return FlagsExitCode.putBackFailed;
  }
}
