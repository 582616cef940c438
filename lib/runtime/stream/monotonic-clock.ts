// Lease expiry is judged on the observer's own monotonic clock: a wall clock stepped by NTP would
// make a live lease look expired (or a dead one live).
import { type Clock, systemClock } from '../clock.ts';

/** `now()` from the process's monotonic timer (offset to the epoch at start); `sleep` as the system clock's. */
export const monotonicClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: systemClock.sleep,
};
