import { BadInputError } from './errors.ts';

/**
 * What `sluice-install` accepts as a version (the same pattern as the script): it becomes part of a
 * shell command, an S3 key and a path on the instance, so nothing outside this set may reach them.
 */
export const RELEASE_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export function assertReleaseVersion(version: string): void {
  if (RELEASE_VERSION_PATTERN.test(version)) return;
  throw new BadInputError(
    `version '${version}' is not valid: use 1 to 128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit`,
  );
}
