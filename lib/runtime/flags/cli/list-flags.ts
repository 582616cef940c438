// `sluice flags list`: every declared flag with its deployed value, the flags the deployed document
// holds that the flag file no longer declares, and the deployment in progress with what it changes.
import type { FlagDefinition } from '../flag-definition.ts';
import type { FlagsCommandContext } from './flags-command-context.ts';
import { FlagsExitCode, type FlagsExitCodeValue } from './flags-exit-codes.ts';
import { describeFlagValue, flagValueIn, type HostedFlagsDocument } from './hosted-flags-document.ts';
import type { FlagsListArgs } from './parse-flags-args.ts';

export async function listFlags(args: FlagsListArgs, context: FlagsCommandContext, definitions: readonly FlagDefinition[]): Promise<FlagsExitCodeValue> {
  const { environment, stdout } = context;
  const state = await environment.readState();
  const deployedDocument = state.deployed?.document;
  const inProgress = state.inProgress;
  const incoming = inProgress?.ConfigurationVersion !== undefined && inProgress.ConfigurationProfileId === environment.target.configurationProfileId
    ? await environment.readVersion(inProgress.ConfigurationVersion)
    : undefined;
  const declared = new Set(definitions.map((definition) => definition.name));
  const undeclared = Object.keys(deployedDocument?.flags ?? {}).filter((name) => !declared.has(name));
  const rows = definitions.map((definition) => ({
    name: definition.name,
    kind: definition.kind,
    owner: definition.owner,
    codeDefault: definition.default,
    deployed: deployedDocument ? (flagValueIn(deployedDocument, definition.name) ?? null) : null,
    ...(incoming ? { deploying: flagValueIn(incoming, definition.name) ?? null } : {}),
  }));

  if (args.json) {
    stdout(JSON.stringify({
      stack: args.stackName,
      deployed: state.deployed ? { deploymentNumber: state.deployed.deploymentNumber, version: state.deployed.version } : null,
      flags: rows,
      undeclared,
      inProgress: inProgress
        ? { deploymentNumber: inProgress.DeploymentNumber, state: inProgress.State, percentageComplete: inProgress.PercentageComplete ?? 0, version: inProgress.ConfigurationVersion }
        : null,
    }));
    return FlagsExitCode.success;
  }

  stdout(state.deployed
    ? `Feature flags of ${args.stackName}: hosted version ${state.deployed.version} (deployment ${state.deployed.deploymentNumber})`
    : `Feature flags of ${args.stackName}: nothing deployed yet (npx cdk deploy -c stage=${args.stage}); instances answer the code defaults`);
  const width = Math.max(4, ...definitions.map((definition) => definition.name.length));
  for (const definition of definitions) {
    const value = deployedDocument ? describeFlagValue(flagValueIn(deployedDocument, definition.name), definition.kind) : `code default ${definition.default ? 'on' : 'off'}`;
    stdout(`  ${definition.name.padEnd(width)}  ${definition.kind.padEnd(11)}  ${value.padEnd(24)}  owner ${definition.owner}`);
  }
  for (const name of undeclared) stdout(`  ${name.padEnd(width)}  deployed but no longer declared in lib/runtime/app/flags.ts (the next stack deploy removes it)`);
  if (inProgress) {
    stdout(`Deployment ${inProgress.DeploymentNumber} in progress: ${inProgress.State} ${inProgress.PercentageComplete ?? 0} % (hosted version ${inProgress.ConfigurationVersion})`);
    for (const change of changes(definitions, deployedDocument, incoming)) stdout(`  ${change}`);
  } else {
    stdout('No deployment in progress.');
  }
  return FlagsExitCode.success;
}

function changes(definitions: readonly FlagDefinition[], from: HostedFlagsDocument | undefined, to: HostedFlagsDocument | undefined): string[] {
  if (to === undefined) return ['(another configuration profile of the environment)'];
  return definitions.flatMap((definition) => {
    const before = from ? describeFlagValue(flagValueIn(from, definition.name), definition.kind) : 'not deployed';
    const after = describeFlagValue(flagValueIn(to, definition.name), definition.kind);
    return before === after ? [] : [`${definition.name}: ${before} -> ${after}`];
  });
}
