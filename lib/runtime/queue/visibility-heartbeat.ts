// Keeps held and running messages invisible: every lease whose visibility has less than half of the
// timeout left is extended by a full timeout (batched, 10 per call), but never past the 12 hours SQS
// allows per receive. A lease that cannot be extended is reported and dropped.
import type { Clock } from '../clock.ts';
import type { BatchOutcome } from './sqs-batcher.ts';
import { VisibilityLimitError } from './errors.ts';
import { type MessageLease, visibilitySecondsLeft } from './message-lease.ts';

export interface VisibilityHeartbeatOptions {
  readonly visibilityTimeoutSeconds: number;
  /** Queues a visibility change for one lease. */
  readonly extend: (lease: MessageLease, seconds: number) => Promise<BatchOutcome>;
  /** Sends the queued changes now. */
  readonly flush: () => void;
  /** After each round, with the leases SQS extended. */
  readonly onExtended: (leases: readonly MessageLease[], seconds: number) => void;
  /** A lease SQS refused to extend, or one at the 12-hour limit; it is no longer watched. */
  readonly onLost: (lease: MessageLease, error: Error) => void;
  /** Times the rounds and judges how much visibility each lease has left. */
  readonly clock: Clock;
}

export class VisibilityHeartbeat {
  private readonly leases = new Set<MessageLease>();
  private readonly extending = new Set<MessageLease>();
  private beating: AbortController | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: VisibilityHeartbeatOptions) {
    this.timeoutMs = options.visibilityTimeoutSeconds * 1000;
  }

  /** Looks every quarter timeout (100 ms to 5 s), so a lease is extended with a quarter of its timeout to spare. */
  start(): void {
    if (this.beating) return;
    this.beating = new AbortController();
    void this.beatEvery(Math.min(5_000, Math.max(100, this.timeoutMs / 4)), this.beating.signal);
  }

  stop(): void {
    this.beating?.abort();
    this.beating = undefined;
  }

  track(lease: MessageLease): void {
    this.leases.add(lease);
  }

  untrack(lease: MessageLease): void {
    this.leases.delete(lease);
  }

  /** One round: extends every lease past half its timeout. Public so tests can drive it. */
  beat(): void {
    const now = this.options.clock.now();
    const due: { readonly lease: MessageLease; readonly seconds: number }[] = [];
    for (const lease of this.leases) {
      if (this.extending.has(lease) || lease.visibleAt - now > this.timeoutMs / 2) continue;
      const seconds = Math.min(this.options.visibilityTimeoutSeconds, visibilitySecondsLeft(lease, now));
      if (seconds <= 0) {
        this.leases.delete(lease);
        this.options.onLost(lease, new VisibilityLimitError(lease.messageId));
        continue;
      }
      due.push({ lease, seconds });
      this.extending.add(lease);
    }
    if (due.length === 0) return;

    const rounds = due.map(async ({ lease, seconds }) => {
      const outcome = await this.options.extend(lease, seconds);
      this.extending.delete(lease);
      // Settled meanwhile (deleted, failed, handed back): nothing to report.
      if (!this.leases.has(lease)) return undefined;
      if (outcome.ok) {
        lease.visibleAt = now + seconds * 1000;
        return lease;
      }
      this.leases.delete(lease);
      this.options.onLost(lease, outcome.error);
      return undefined;
    });
    this.options.flush();
    void Promise.all(rounds).then((results) => {
      const extended = results.filter((lease): lease is MessageLease => lease !== undefined);
      if (extended.length > 0) this.options.onExtended(extended, this.options.visibilityTimeoutSeconds);
    });
  }

  private async beatEvery(intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.options.clock.sleep(intervalMs, signal);
      } catch {
        return; // stopped
      }
      this.beat();
    }
  }
}
