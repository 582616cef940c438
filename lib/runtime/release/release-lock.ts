import type { Clock } from '../clock.ts';
import { LockLostError, LockNotAcquiredError, SupersededError } from './errors.ts';
import type { LockHolder, LockState, ReleaseStore } from './ports.ts';

export interface AcquireOptions {
  readonly store: ReleaseStore;
  readonly clock: Clock;
  readonly holder: LockHolder;
  readonly ttlMs: number;
  /** How long to wait for another release to finish. */
  readonly waitMs: number;
  readonly pollMs: number;
  /** Give up as superseded when a newer version is waiting, running or already released. */
  readonly supersede: boolean;
  readonly signal?: AbortSignal;
  readonly onWaiting?: (heldBy: LockState) => void;
  readonly onTakeover?: (from: LockState) => void;
}

/**
 * Takes the release lock, waiting (bounded) while another release holds it. A lock whose holder
 * stopped heartbeating past its expiry is taken over. With `supersede`, an older version gives up
 * as soon as a newer one is queued, running or done, so CI never rolls a newer release back.
 */
export async function acquireReleaseLock(options: AcquireOptions): Promise<LockState> {
  const { store, clock, holder, ttlMs } = options;
  const deadline = clock.now() + options.waitMs;
  if (options.supersede) await store.joinQueue(holder, clock.now(), ttlMs);
  try {
    for (;;) {
      if (options.supersede) await throwIfSuperseded(store, holder, clock.now());
      const attempt = await store.tryAcquireLock(holder, ttlMs, clock.now());
      if (attempt.acquired) {
        if (attempt.tookOverFrom) options.onTakeover?.(attempt.tookOverFrom);
        return attempt.lock;
      }
      if (options.supersede && isNewer(attempt.heldBy, holder)) throw new SupersededError(holder.version, attempt.heldBy.version);
      if (clock.now() >= deadline) throw new LockNotAcquiredError(attempt.heldBy);
      options.onWaiting?.(attempt.heldBy);
      await clock.sleep(Math.min(options.pollMs, Math.max(0, deadline - clock.now())), options.signal);
      // Keep our queue entry alive while we wait.
      if (options.supersede) await store.joinQueue(holder, clock.now(), ttlMs);
    }
  } finally {
    if (options.supersede) await store.leaveQueue(holder).catch(() => undefined);
  }
}

async function throwIfSuperseded(store: ReleaseStore, holder: LockHolder, now: number): Promise<void> {
  const newerWaiting = (await store.listQueue(now)).find((waiting) => waiting.releaseId !== holder.releaseId && isNewer(waiting, holder));
  if (newerWaiting) throw new SupersededError(holder.version, newerWaiting.version);
  const newerDone = (await store.listHistory(20)).find((release) => release.outcome === 'succeeded' && isNewer(release, holder));
  if (newerDone) throw new SupersededError(holder.version, newerDone.version);
}

function isNewer(other: { requestedAt: number; version: string }, ours: LockHolder): boolean {
  return other.requestedAt > ours.requestedAt && other.version !== ours.version;
}

/**
 * Renews the lock every third of its TTL until stopped. When the lock is lost (another release took
 * it over because we stalled), `onLost` is called once and renewals stop.
 */
export class LockHeartbeat {
  private readonly controller = new AbortController();
  private readonly loop: Promise<void>;
  private lock: LockState;

  constructor(private readonly options: { store: ReleaseStore; clock: Clock; lock: LockState; ttlMs: number; onLost: (error: LockLostError) => void; onError?: (error: unknown) => void }) {
    this.lock = options.lock;
    this.loop = this.run();
  }

  get current(): LockState {
    return this.lock;
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { store, clock, ttlMs } = this.options;
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        await clock.sleep(Math.max(1000, Math.floor(ttlMs / 3)), signal);
      } catch {
        return;
      }
      try {
        this.lock = await store.heartbeat(this.lock, ttlMs, clock.now());
      } catch (error) {
        if (error instanceof LockLostError) {
          this.options.onLost(error);
          return;
        }
        // A failed renewal is retried at the next beat; the TTL leaves room for two misses.
        this.options.onError?.(error);
      }
    }
  }
}
