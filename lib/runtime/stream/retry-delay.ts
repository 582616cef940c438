// Pauses that grow with each consecutive failure.
import type { Backoff } from './stream-consumer-options.ts';

/** `initialMs × 2^(attempt − 1)` capped at `maxMs`; with `jitter`, a random point in its upper half, so workers retrying together spread out. */
export function retryDelayMs(attempt: number, backoff: Backoff, jitter = false, random: () => number = Math.random): number {
  const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return jitter ? delay * (0.5 + random() / 2) : delay;
}
