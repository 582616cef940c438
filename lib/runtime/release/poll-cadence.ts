import type { Clock } from '../clock.ts';

/**
 * Polls on a fixed rhythm: the n-th poll is due at start + n × interval, however long each call
 * took, so a 20 ms API round trip is not added to every interval of a wait.
 */
export class PollCadence {
  private next: number;

  constructor(private readonly clock: Clock, private readonly intervalMs: number) {
    this.next = clock.now();
  }

  /** Sleeps until the next beat (at once if calls fell behind), never past `deadline`. */
  async wait(deadline: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.next = Math.max(this.next + this.intervalMs, now);
    await this.clock.sleep(Math.max(0, Math.min(this.next, deadline) - now), signal);
  }
}

export interface PollUntilOptions<T> {
  readonly clock: Clock;
  readonly intervalMs: number;
  /** From now. */
  readonly deadlineMs: number;
  readonly signal?: AbortSignal;
  readonly read: (signal?: AbortSignal) => Promise<T>;
  /** True when the wait is over; may throw to end it early (e.g. a target marked unhealthy). */
  readonly done: (value: T) => boolean;
  /** The error to throw when the deadline passes, given the last value read. */
  readonly onDeadline: (last: T) => Error;
  /**
   * Read errors that are a poll without news (the read gave up retrying a throttled call): the wait
   * goes on to its deadline, as the SDK's own waiters do, and the error is thrown only past it.
   * @default - none: every read error ends the wait
   */
  readonly retryable?: (error: unknown) => boolean;
}

/** Reads on the cadence until `done`, or throws `onDeadline(last)` once the deadline has passed. */
export async function pollUntil<T>(options: PollUntilOptions<T>): Promise<void> {
  const { clock, signal } = options;
  const deadline = clock.now() + options.deadlineMs;
  const cadence = new PollCadence(clock, options.intervalMs);
  for (;;) {
    let value: T;
    try {
      value = await options.read(signal);
    } catch (error) {
      if (!options.retryable?.(error) || deadline - clock.now() <= 0) throw error;
      await cadence.wait(deadline, signal);
      continue;
    }
    if (options.done(value)) return;
    if (deadline - clock.now() <= 0) throw options.onDeadline(value);
    // The last read lands on the deadline itself, so a target that makes it just in time counts.
    await cadence.wait(deadline, signal);
  }
}
