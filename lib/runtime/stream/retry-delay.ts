// Pauses that grow with each consecutive failure, in the stream consumer's option shape.
import { exponentialBackoff, withJitter } from '../backoff.ts';
import type { Backoff } from './stream-consumer-options.ts';

/** `initialMs × 2^(attempt − 1)` capped at `maxMs`; with `jitter`, a random point in its upper half, so workers retrying together spread out. */
export function retryDelayMs(attempt: number, backoff: Backoff, jitter = false, random: () => number = Math.random): number {
  const delay = exponentialBackoff(attempt, { initial: backoff.initialMs, max: backoff.maxMs });
  return jitter ? withJitter(delay, random) : delay;
}
