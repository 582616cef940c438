import { SettingsProblems } from '../settings-validation.ts';
import type { ReleaseResourcesSettings } from './release-resources.ts';

/** Every problem with the release resources' settings. */
export function validateReleaseResourcesSettings(settings: ReleaseResourcesSettings): string[] {
  const check = new SettingsProblems();
  // S3 moves objects to STANDARD_IA no sooner than 30 days after creation.
  check.wholeNumber('artifactInfrequentAccessDays', settings.artifactInfrequentAccessDays, 30, 3650, 'days');
  check.wholeNumber('artifactNoncurrentRetentionDays', settings.artifactNoncurrentRetentionDays, 1, 3650, 'days');
  return [...check.list];
}
