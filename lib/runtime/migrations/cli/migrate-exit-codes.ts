/**
 * Exit codes of `sluice migrate`; documented in the README. They line up with `sluice release`'s:
 * 1 failed cleanly, 2 needs a person now, 3 bad input with nothing touched, 4 the lock.
 */
export const MigrateExitCode = {
  /** Done: the status or plan shown, every pending script applied, the scripts marked, or the database rebuilt. */
  success: 0,
  /** A script failed and was rolled back entirely; no later script ran, the journal is unchanged. */
  failed: 1,
  /** A `-- sluice:no-transaction` script failed part-way: what it applied stays; the message says what to do. */
  partiallyApplied: 2,
  /** Bad input: a flag, the connection, a refused folder or journal, a refused rebuild; nothing was run. */
  badInput: 3,
  /** Another runner held the migration lock for the whole --lock-timeout; nothing was run. */
  lockNotAcquired: 4,
} as const;

export type MigrateExitCodeValue = (typeof MigrateExitCode)[keyof typeof MigrateExitCode];
