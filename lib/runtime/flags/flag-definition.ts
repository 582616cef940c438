// What a feature flag is, as declared in the repository (lib/runtime/app/flags.ts) and deployed by
// AppConfig as an `AWS.AppConfig.FeatureFlags` configuration. CDK-free: the stack builds the hosted
// configuration from these declarations, and the runtime client and the CLI read them for each
// flag's code default and kind.

/**
 * `kill-switch`: on or off for everyone, changed all at once (no bake), so a bad feature is off in
 * seconds. `rollout`: on for a sticky percentage of users, raised gradually while the alarms watch.
 */
export type FlagKind = 'kill-switch' | 'rollout';

interface FlagDefinitionBase {
  /** AppConfig's flag key: a letter first, then letters, digits, `_` or `-` (at most 64). */
  readonly name: string;
  /** What turning it on changes, for the person about to flip it. */
  readonly description: string;
  /** Who to ask before changing it (a team or a person). */
  readonly owner: string;
  /**
   * The value the client uses when it has no configuration at all (the service unreachable since
   * start) and for the first deployment: code ships dark with `false`.
   */
  readonly default: boolean;
}

export interface KillSwitchDefinition extends FlagDefinitionBase {
  readonly kind: 'kill-switch';
}

export interface RolloutDefinition extends FlagDefinitionBase {
  readonly kind: 'rollout';
  /** The share of users it is on for once enabled, 0–100; the first deployment's value. */
  readonly percentage: number;
}

export type FlagDefinition = KillSwitchDefinition | RolloutDefinition;

/**
 * A flag's deployed value, as AppConfig Data returns it for an `AWS.AppConfig.FeatureFlags`
 * profile: `enabled`, and for a rollout its `percentage` attribute.
 */
export interface FlagValue {
  readonly enabled: boolean;
  readonly percentage?: number;
}
