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
