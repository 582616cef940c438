import { InvalidSettingsError } from '../constructs/settings-validation.ts';
import { stackName } from '../runtime/stack-contract.ts';

/** The CI stack's name; deploy it with `npx cdk deploy sluice-ci -c githubRepository=owner/name`. */
export const CI_STACK_NAME = 'sluice-ci';

/** The context keys the CI stack reads: `-c githubRepository=owner/name [-c githubOidcProviderArn=arn]`. */
export const ciContextKeys = ['githubRepository', 'githubOidcProviderArn'] as const;

export interface CiSettings {
  readonly githubRepository: string;
  readonly githubOidcProviderArn?: string;
}

/**
 * The CI stack's settings from the app's context, or undefined when no repository is given: the CI
 * stack is then not part of the app, so a plain `cdk synth` stays a stage's synth and needs nothing
 * about GitHub. Checks only what the construct cannot: which settings go together and that no stage
 * takes the CI stack's name. The construct checks the values.
 */
export function resolveCiSettings(context: Readonly<Record<string, unknown>>, stageNames: readonly string[]): CiSettings | undefined {
  const text = (key: (typeof ciContextKeys)[number]) => (Object.hasOwn(context, key) && context[key] !== undefined ? String(context[key]).trim() : undefined);
  const githubRepository = text('githubRepository');
  const githubOidcProviderArn = text('githubOidcProviderArn');
  if (githubRepository === undefined) {
    if (githubOidcProviderArn === undefined) return undefined;
    throw new InvalidSettingsError('CI stack', ['githubOidcProviderArn needs githubRepository: the provider is imported into the CI stack, which -c githubRepository=owner/name adds']);
  }
  const clashing = stageNames.filter((stage) => stackName(stage) === CI_STACK_NAME);
  if (clashing.length > 0) {
    throw new InvalidSettingsError('CI stack', [`stage "${clashing[0]}" would be the stack ${CI_STACK_NAME}, the CI stack's name: rename the stage`]);
  }
  return { githubRepository, ...(githubOidcProviderArn === undefined ? {} : { githubOidcProviderArn }) };
}
