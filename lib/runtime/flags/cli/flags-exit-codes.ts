/** Exit codes of `sluice flags list|set|ramp`, aligned with `sluice release`'s; documented in the README. */
export const FlagsExitCode = {
  /** Listed, or the change is deployed (COMPLETE), or there was nothing to change. */
  success: 0,
  /** The change did not stick and the flag is back where it was: AppConfig rolled the deployment back, or a ramp stopped on an alarm and put the previous percentage back. */
  rolledBack: 1,
  /** Putting the previous percentage back failed too: look at the flag now (`sluice flags list`). */
  putBackFailed: 2,
  /** Bad input (flags, stage, stack outputs, unknown flag, percent out of range, no credentials or region); nothing was written. */
  badInput: 3,
  /** Another deployment is in progress in the environment (AppConfig runs one at a time); nothing was written. */
  deploymentInProgress: 4,
} as const;

export type FlagsExitCodeValue = (typeof FlagsExitCode)[keyof typeof FlagsExitCode];
