import type { ReleaseResourcesSettings } from './release-resources.ts';

/** The release resources' defaults, read by the construct. Why each value: see ReleaseResourcesSettings. */
export const RELEASE_RESOURCES_DEFAULTS: Readonly<Required<ReleaseResourcesSettings>> = {
  artifactInfrequentAccessDays: 30,
  artifactNoncurrentRetentionDays: 30,
};
