import { APP_TIER_DEFAULTS } from '../constructs/app-tier/app-tier-defaults.ts';
import { validateAppTierSettings } from '../constructs/app-tier/validate-app-tier-settings.ts';
import { validateDatabaseSettings } from '../constructs/database/validate-database-settings.ts';
import { validateEventStreamSettings } from '../constructs/event-stream/validate-event-stream-settings.ts';
import { validateFeatureFlagsSettings } from '../constructs/feature-flags/validate-feature-flags-settings.ts';
import { validateLogGroupSettings } from '../constructs/log-groups/log-group-settings.ts';
import { validateMonitoringSettings } from '../constructs/monitoring/validate-monitoring-settings.ts';
import { validateReleaseResourcesSettings } from '../constructs/release-resources/validate-release-resources-settings.ts';
import { validateWebFirewallSettings } from '../constructs/web-firewall/validate-web-firewall-settings.ts';
import { validateWorkQueueSettings } from '../constructs/work-queue/validate-work-queue-settings.ts';
import { Problems } from '../runtime/problems.ts';
import { STAGE_NAME_PATTERN } from '../runtime/stack-contract.ts';
import { externalApiUrlProblems } from './external-api-url.ts';
import { parseSettingOverrides } from './setting-overrides.ts';
import { consumerKinds, type StageConfig, StageConfigError } from './stage-config.ts';
import { defaultStage, stages } from './stages.ts';

/**
 * The configuration of the chosen stage with any `-c <setting>=<value>` overrides from the app's
 * `context` applied. Throws one StageConfigError that lists every problem: an unknown stage,
 * unknown or unreadable overrides and every setting out of range, so a user fixes them all in one go.
 */
export function resolveStageConfig(
  stageName: unknown = defaultStage,
  context: Readonly<Record<string, unknown>> = {},
  known: Readonly<Record<string, StageConfig>> = stages,
): StageConfig {
  const name = String(stageName);
  const base = Object.hasOwn(known, name) ? known[name] : undefined;
  if (base === undefined) {
    throw StageConfigError.unknownStage(name, Object.keys(known));
  }
  const { overrides, problems } = parseSettingOverrides(context);
  const config: StageConfig = { ...base, ...overrides };
  const check = new Problems();
  check.addAll(problems);
  check.addAll(validateStageConfig(config));
  check.throwIfAny((list) => new StageConfigError(name, list));
  return config;
}

/** Every problem with a stage's configuration, across all constructs. */
export function validateStageConfig(config: StageConfig): string[] {
  const check = new Problems();
  check.matches('stageName', config.stageName, STAGE_NAME_PATTERN, '1 to 20 lower-case letters, digits or "-", starting with a letter');
  check.addAll(validateAppTierSettings(config));
  check.addAll(validateWorkQueueSettings(config));
  check.addAll(validateEventStreamSettings(config));
  check.addAll(validateMonitoringSettings(config));
  check.addAll(validateReleaseResourcesSettings(config));
  check.addAll(validateDatabaseSettings(config));
  check.addAll(validateFeatureFlagsSettings(config));
  check.addAll(validateLogGroupSettings(config));
  check.addAll(validateWebFirewallSettings(config));
  for (const name of ['queueConsumer', 'streamConsumer'] as const) {
    const value = config[name];
    if (value !== undefined && !(consumerKinds as readonly string[]).includes(value)) {
      check.add(`${name} must be one of ${consumerKinds.join(', ')} (given "${value}")`);
    }
  }
  check.addAll(externalApiUrlProblems(config.externalApiUrl));
  // Across two constructs: the healthy-hosts alarm (monitoring) against the group's minimum (app tier).
  const minCapacity = config.minCapacity ?? APP_TIER_DEFAULTS.minCapacity;
  if (config.minHealthyHosts !== undefined && config.minHealthyHosts > minCapacity) {
    check.add(`minHealthyHosts must be at most minCapacity (${minCapacity}), or the healthy-hosts alarm fires whenever the group is at its minimum (given ${config.minHealthyHosts})`);
  }
  return [...check.list];
}
