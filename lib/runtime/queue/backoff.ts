// How long a failed message stays invisible before its next try, from its receive count.
import { type BackoffPolicy, exponentialBackoff } from '../backoff.ts';

/** Whole seconds of invisibility for a message that failed on its `receiveCount`-th receive. */
export function failureVisibilitySeconds(receiveCount: number, policy: BackoffPolicy): number {
  return Math.round(exponentialBackoff(receiveCount, policy));
}
