import { validateAppTierSettings } from '../constructs/app-tier/validate-app-tier-settings.ts';
import { validateEventStreamSettings } from '../constructs/event-stream/validate-event-stream-settings.ts';
import { validateMonitoringSettings } from '../constructs/monitoring/validate-monitoring-settings.ts';
import { validateReleaseResourcesSettings } from '../constructs/release-resources/validate-release-resources-settings.ts';
import { validateWorkQueueSettings } from '../constructs/work-queue/validate-work-queue-settings.ts';
import { parseSettingOverrides } from './setting-overrides.ts';
import { queueConsumers, type StageConfig, StageConfigError } from './stage-config.ts';
import { defaultStage, stages } from './stages.ts';

/**
 * The configuration of the chosen stage with any `-c <setting>=<value>` overrides applied.
 * Throws one StageConfigError that lists every problem: an unknown stage, unreadable overrides
 * and every setting out of range, so a user fixes them all in one go.
 */
export function resolveStageConfig(
  stageName: unknown = defaultStage,
  lookup: (key: string) => unknown = () => undefined,
  known: Readonly<Record<string, StageConfig>> = stages,
): StageConfig {
  const name = String(stageName);
  const base = Object.hasOwn(known, name) ? known[name] : undefined;
  if (base === undefined) {
    throw StageConfigError.unknownStage(name, Object.keys(known));
  }
  const { overrides, problems } = parseSettingOverrides(lookup);
  const config: StageConfig = { ...base, ...overrides };
  problems.push(...validateStageConfig(config));
  if (problems.length > 0) throw new StageConfigError(name, problems);
  return config;
}

/** Every problem with a stage's configuration, across all constructs. */
export function validateStageConfig(config: StageConfig): string[] {
  const problems = [
    ...(/^[a-z][a-z0-9-]{0,19}$/.test(config.stageName)
      ? []
      : [`stageName must be 1 to 20 lower-case letters, digits or "-", starting with a letter (given "${config.stageName}")`]),
    ...validateAppTierSettings(config),
    ...validateWorkQueueSettings(config),
    ...validateEventStreamSettings(config),
    ...validateMonitoringSettings(config),
    ...validateReleaseResourcesSettings(config),
  ];
  if (config.queueConsumer !== undefined && !(queueConsumers as readonly string[]).includes(config.queueConsumer)) {
    problems.push(`queueConsumer must be one of ${queueConsumers.join(', ')} (given "${config.queueConsumer}")`);
  }
  const minCapacity = config.minCapacity ?? 2;
  if (config.minHealthyHosts !== undefined && config.minHealthyHosts > minCapacity) {
    problems.push(`minHealthyHosts must be at most minCapacity (${minCapacity}), or the healthy-hosts alarm fires whenever the group is at its minimum (given ${config.minHealthyHosts})`);
  }
  return problems;
}
