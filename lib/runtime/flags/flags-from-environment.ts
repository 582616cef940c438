// The flags an instance uses, from its environment (/etc/sluice/env): FLAGS_APPLICATION_ID,
// FLAGS_ENVIRONMENT_ID and FLAGS_CONFIGURATION_PROFILE_ID name the AppConfig configuration; without
// any of them (a local run, the sandbox) every flag is its code default, said once at start.
import type { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import type { Logger } from '../json-logger.ts';
import type { FlagDefinition } from './flag-definition.ts';
import { type FlagContext, FlagEvaluator } from './flag-evaluator.ts';
import { FlagsClient } from './flags-client.ts';
import { FlagsError } from './flags-error.ts';

export const FLAGS_ENVIRONMENT_VARIABLES = ['FLAGS_APPLICATION_ID', 'FLAGS_ENVIRONMENT_ID', 'FLAGS_CONFIGURATION_PROFILE_ID'] as const;

/** What a server needs of its flags: decisions, and a start and stop around its own. */
export interface InstanceFlags {
  isEnabled(flag: string, context: FlagContext): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A FlagsClient when the environment names the configuration, the code defaults when it names none; an error when it names part. */
export function flagsFromEnvironment(env: Readonly<Record<string, string | undefined>>, props: { readonly client: () => AppConfigDataClient; readonly definitions: readonly FlagDefinition[]; readonly logger: Logger }): InstanceFlags {
  const set = FLAGS_ENVIRONMENT_VARIABLES.filter((name) => env[name]);
  if (set.length === 0) {
    const evaluator = new FlagEvaluator(props.definitions, props.logger);
    return {
      isEnabled: (flag, context) => evaluator.isEnabled(flag, context),
      start: async () => props.logger.log('info', 'flags.code_defaults', { reason: `${FLAGS_ENVIRONMENT_VARIABLES.join(', ')} are not set: every flag answers its code default from the flag file` }),
      stop: async () => undefined,
    };
  }
  if (set.length < FLAGS_ENVIRONMENT_VARIABLES.length) {
    const missing = FLAGS_ENVIRONMENT_VARIABLES.filter((name) => !env[name]);
    throw new FlagsError(`${missing.join(' and ')} must be set beside ${set.join(' and ')} (the stack writes all three to /etc/sluice/env), or none of them for code defaults`, 'BadEnvironment');
  }
  return new FlagsClient({
    client: props.client(),
    applicationId: env.FLAGS_APPLICATION_ID!,
    environmentId: env.FLAGS_ENVIRONMENT_ID!,
    configurationProfileId: env.FLAGS_CONFIGURATION_PROFILE_ID!,
    definitions: props.definitions,
    logger: props.logger,
  });
}
