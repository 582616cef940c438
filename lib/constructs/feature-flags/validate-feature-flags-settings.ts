import { SettingsProblems } from '../settings-validation.ts';
import type { FeatureFlagsSettings } from './feature-flags.ts';

/** Every problem with the feature-flag deployment strategy's settings. */
export function validateFeatureFlagsSettings(settings: FeatureFlagsSettings): string[] {
  const check = new SettingsProblems();
  // AppConfig's ranges: DeploymentDurationInMinutes and FinalBakeTimeInMinutes 0–1440 whole
  // minutes, GrowthFactor 1–100 percent.
  minutesInRange(check, 'flagsRolloutDuration', settings.flagsRolloutDuration);
  minutesInRange(check, 'flagsRolloutBakeTime', settings.flagsRolloutBakeTime);
  check.numberInRange('flagsRolloutGrowthFactor', settings.flagsRolloutGrowthFactor, 1, 100, 'percent');
  return [...check.list];
}

function minutesInRange(check: SettingsProblems, name: string, value: FeatureFlagsSettings['flagsRolloutDuration']): void {
  if (value === undefined || value.isUnresolved()) return;
  const minutes = value.toMinutes({ integral: false });
  check.check(Number.isInteger(minutes) && minutes >= 0 && minutes <= 1440, `${name} must be a whole number of minutes between 0 and 1440 (given ${value.toHumanString()})`);
}
