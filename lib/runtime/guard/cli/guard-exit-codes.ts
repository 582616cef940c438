/**
 * Exit codes of `sluice guard`; documented in the README. A refusal is 6, beyond `sluice release`'s
 * 0–5, so a script that runs both tells "the guard refused" from any release outcome; bad input is
 * 3 in both.
 */
export const GuardExitCode = {
  /** No stateful resource would be replaced or removed (orphaned ones are reported), or the override was given. */
  clean: 0,
  /** A directory is missing, has no manifest.json or unreadable files, or a flag is wrong; nothing was compared. */
  badInput: 3,
  /** At least one stateful resource would be replaced or removed. */
  destructive: 6,
} as const;

export type GuardExitCodeValue = (typeof GuardExitCode)[keyof typeof GuardExitCode];
