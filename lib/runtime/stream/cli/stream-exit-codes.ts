/** Exit codes of `sluice stream status|replay`; documented in the README beside the release CLI's. */
export const StreamExitCode = {
  /** The status was shown, or every lease asked for was moved. */
  success: 0,
  /** The replay failed part-way: the output names the leases that moved and those that did not. */
  failed: 1,
  /** Bad input (flags, stage, stack outputs, unknown shard, time outside retention, no confirmation possible); nothing was written. */
  badInput: 3,
  /** The replay was not confirmed at the prompt; nothing was written. */
  declined: 4,
} as const;

export type StreamExitCodeValue = (typeof StreamExitCode)[keyof typeof StreamExitCode];
