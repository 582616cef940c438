// A cancellable one-shot timer on an injected Clock, so that every wait of the queue subsystem runs
// on the clock it was given (virtual in tests) rather than on the global setTimeout.
import type { Clock } from '../clock.ts';

/** Calls `onFire` once `ms` have passed on `clock`, unless the returned cancel function runs first. */
export function startTimer(clock: Clock, ms: number, onFire: () => void): () => void {
  const controller = new AbortController();
  clock.sleep(ms, controller.signal).then(
    // A cancel that comes after the sleep has ended but before this callback runs still wins.
    () => {
      if (!controller.signal.aborted) onFire();
    },
    () => undefined,
  );
  return () => controller.abort();
}
