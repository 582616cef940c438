// Exponential back-off with optional jitter: how long to wait before retrying a failed AWS call or a
// failed batch (queue, stream, stack outputs), and how long a failed message stays invisible.

export interface BackoffPolicy {
  /** The first delay. */
  readonly initial: number;
  /** No delay is longer than this. */
  readonly max: number;
}

/** `initial × 2^(attempt − 1)`, capped at `max`; `attempt` counts from 1. */
export function exponentialBackoff(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^31 already exceeds every cap in use; stop there so that the product stays finite.
  return Math.min(policy.max, policy.initial * 2 ** Math.min(exponent, 31));
}

/**
 * A delay between half and all of `delay`: many workers retrying after the same outage spread out
 * instead of returning together.
 */
export function withJitter(delay: number, random: () => number = Math.random): number {
  return delay / 2 + (delay / 2) * random();
}
