// One change of one flag, as `set` and every ramp step make it: a new hosted version holding the
// deployed document with only that flag's value replaced, a deployment of it, and that deployment
// followed until AppConfig says COMPLETE or ROLLED_BACK.
import type { GetDeploymentCommandOutput } from '@aws-sdk/client-appconfig';
import type { FlagDefinition, FlagValue } from '../flag-definition.ts';
import type { AppConfigFlagsEnvironment, DeployedFlags } from './appconfig-environment.ts';
import { describeFlagValue, withFlagValue } from './hosted-flags-document.ts';

export type DeployOutcome =
  | { readonly kind: 'complete'; readonly deploymentNumber: number }
  | { readonly kind: 'rolled-back'; readonly deploymentNumber: number; readonly state: string; readonly reason: string };

export interface DeployFlagValueProps {
  readonly environment: AppConfigFlagsEnvironment;
  readonly deployed: DeployedFlags;
  readonly flag: FlagDefinition;
  readonly value: FlagValue;
  readonly strategy: 'all-at-once' | 'gradual';
  /** Recorded on the hosted version and the deployment: who changed what, for the console's history. */
  readonly description: string;
  readonly progress: (line: string) => void;
  readonly signal?: AbortSignal;
}

export async function deployFlagValue(props: DeployFlagValueProps): Promise<DeployOutcome> {
  const { environment, deployed, flag, value, strategy, description, progress } = props;
  const version = await environment.createVersion(withFlagValue(deployed.document, flag.name, value), description);
  progress(`created hosted configuration version ${version}: ${flag.name} ${describeFlagValue(value, flag.kind)}`);
  const strategyId = strategy === 'all-at-once' ? environment.target.allAtOnceStrategyId : environment.target.gradualStrategyId;
  const deploymentNumber = await environment.startDeployment(version, strategyId, description);
  progress(`deployment ${deploymentNumber} started (${strategy} strategy ${strategyId})`);
  const final = await environment.follow(deploymentNumber, (deployment) => progress(`deployment ${deploymentNumber} ${deployment.State} ${deployment.PercentageComplete ?? 0} %`), props.signal);
  if (final.State === 'COMPLETE') return { kind: 'complete', deploymentNumber };
  return { kind: 'rolled-back', deploymentNumber, state: final.State ?? 'unknown', reason: lastEvent(final) };
}

/** The newest entry of the deployment's event log, which names the alarm that rolled it back. */
export function lastEvent(deployment: GetDeploymentCommandOutput): string {
  const [newest] = [...(deployment.EventLog ?? [])].sort((left, right) => (right.OccurredAt?.getTime() ?? 0) - (left.OccurredAt?.getTime() ?? 0));
  return newest?.Description ?? 'no reason in the event log';
}
