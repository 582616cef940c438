import FakeTimers from '@sinonjs/fake-timers';
import type { Clock } from '../../lib/runtime/clock.ts';

/** 2026-01-01T00:00:00Z: simulations start here. */
export const SIMULATION_EPOCH = Date.UTC(2026, 0, 1);

/**
 * A discrete-event clock for simulations: `sleep` schedules a virtual timer, and `run` advances
 * virtual time to the next timer whenever nothing else is left to run, so a release that takes an
 * hour of AWS time finishes in milliseconds. Real I/O wrapped in `io` (e.g. dynalite) completes in
 * real time and takes no virtual time.
 */
export class VirtualClock implements Clock {
  readonly timers: ReturnType<typeof FakeTimers.createClock>;
  private pendingIo = 0;

  constructor(start = SIMULATION_EPOCH) {
    this.timers = FakeTimers.createClock(start);
  }

  now(): number {
    return this.timers.now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        this.timers.clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = this.timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Runs real I/O (e.g. a dynalite request) as taking no virtual time: `run` does not advance the
   * clock while any is in flight, so a slow local request never lets a simulated timer jump ahead.
   */
  async io<T>(work: () => Promise<T>): Promise<T> {
    this.pendingIo += 1;
    try {
      return await work();
    } finally {
      this.pendingIo -= 1;
    }
  }

  /** Schedules `callback` at virtual time `at` (ms since epoch); returns a cancel function. */
  at(at: number, callback: () => void): () => void {
    const timer = this.timers.setTimeout(callback, Math.max(0, at - this.now()));
    return () => this.timers.clearTimeout(timer);
  }

  /**
   * Drives virtual time until `work` settles. Throws if virtual time passes `limitMs` (a runaway
   * simulation) or real time passes `realLimitMs` (something waits on neither a timer nor I/O).
   */
  async run<T>(work: Promise<T>, { limitMs = 24 * 3_600_000, realLimitMs = 60_000 } = {}): Promise<T> {
    let settled = false;
    const tracked = work.finally(() => {
      settled = true;
    });
    tracked.catch(() => undefined);
    const startedAt = this.now();
    const realStart = Date.now();
    while (!settled) {
      // Let promise chains and completed I/O run before deciding that everything is waiting.
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) break;
      if (this.now() - startedAt > limitMs) throw new Error(`simulation ran past ${limitMs} ms of virtual time`);
      if (Date.now() - realStart > realLimitMs) throw new Error(`simulation made no progress for ${realLimitMs} ms of real time`);
      if (this.pendingIo === 0 && this.timers.countTimers() > 0) await this.timers.nextAsync();
    }
    return tracked;
  }
}
