/** Exit codes of `sluice release`; documented in the README. */
export const ExitCode = {
  /** Every target runs the new version (or already did). */
  success: 0,
  /** The release failed and every target moved is back on its previous version (or it failed before moving any). */
  rolledBack: 1,
  /** The release failed and putting a target back failed too: look at the named target now. */
  rollbackFailed: 2,
  /** Bad input (flags, stage, stack outputs, missing artifact, no AWS credentials or region); nothing was touched. */
  badInput: 3,
  /** Another release held the lock for the whole wait; nothing was touched. */
  lockNotAcquired: 4,
  /** With --supersede: a newer version was waiting or already released; nothing was touched. */
  superseded: 5,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
