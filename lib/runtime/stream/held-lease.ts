// A lease this worker holds: its counter (every write is conditional on it, so the writes of one
// lease are serialized), what has been processed and what has been checkpointed, and the two signals
// of its shard: `fetching` (stop reading; aborted at the start of a graceful stop) and `processing`
// (the processor's signal; aborted when the lease is lost or the stop deadline passes).
import { asError, LeaseLostError } from './errors.ts';
import { type Checkpoint, type Lease, SHARD_END } from './lease.ts';
import type { ShardHost } from './shard-host.ts';
import type { StreamRecord } from './stream-record.ts';

export type HeldLeaseState = 'held' | 'lost' | 'finished' | 'released' | 'abandoned';

export class HeldLease {
  readonly shardId: string;
  /** The lease as taken: its checkpoint is where reading starts. */
  readonly taken: Lease;
  /** When (monotonic) the take was sent; scans begun earlier cannot judge this lease. */
  readonly takenAt: number;
  readonly fetching = new AbortController();
  readonly processing = new AbortController();
  private currentState: HeldLeaseState = 'held';
  private counter: number;
  private processedUpTo: Checkpoint | undefined;
  private checkpointed: Checkpoint;
  private lastCheckpointAt: number;
  /** Start of the last successful renewal: others cannot expire the lease before this + lease duration. */
  private renewedAt: number;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    lease: Lease,
    takenAt: number,
    private readonly host: ShardHost,
  ) {
    this.shardId = lease.leaseKey;
    this.taken = lease;
    this.takenAt = takenAt;
    this.counter = lease.leaseCounter;
    this.checkpointed = lease.checkpoint;
    this.lastCheckpointAt = takenAt;
    this.renewedAt = takenAt;
  }

  get state(): HeldLeaseState {
    return this.currentState;
  }

  /** The last record processed (or sent to the failure queue) since the take. */
  get processed(): Checkpoint | undefined {
    return this.processedUpTo;
  }

  markProcessed(record: StreamRecord): void {
    this.processedUpTo = { sequenceNumber: record.sequenceNumber, subSequenceNumber: record.subSequenceNumber ?? 0 };
  }

  /** Renews the lease, writing the checkpoint with it when one is due (so a checkpoint costs no extra write). */
  renew(): Promise<void> {
    return this.serialized(async () => {
      if (this.currentState !== 'held') return;
      const { table, options, counts } = this.host;
      const startedAt = options.clock.now();
      const position = this.processedUpTo;
      const due = position !== undefined && !samePosition(position, this.checkpointed) && startedAt - this.lastCheckpointAt >= options.checkpointIntervalMs;
      try {
        const written = due
          ? await table.checkpoint(this.shardId, this.counter, options.workerId, position)
          : await table.renew(this.shardId, this.counter, options.workerId);
        if (!written) {
          this.lose('its counter or owner changed: another worker took it or a replay moved it');
          return;
        }
        this.counter += 1;
        this.renewedAt = startedAt;
        if (due) this.checkpointWritten(position, startedAt, 'interval');
      } catch (error) {
        counts.awsErrors += 1;
        this.host.reportError(asError(error), this.shardId);
        // Others may take the lease one lease duration after they last saw it change; let go before that.
        if (options.clock.now() + options.renewIntervalMs >= this.renewedAt + options.leaseDurationMs) this.lose('it could not be renewed within the lease duration');
      }
    });
  }

  /** Checkpoints SHARD_END with the children recorded; the lease is then finished and no longer renewed. */
  endShard(childShardIds: readonly string[]): Promise<boolean> {
    return this.serialized(async () => {
      if (this.currentState !== 'held') return false;
      const { table, options } = this.host;
      const position = { sequenceNumber: SHARD_END, subSequenceNumber: 0 };
      const startedAt = options.clock.now();
      if (!(await table.checkpoint(this.shardId, this.counter, options.workerId, position, { childShardIds }))) {
        this.lose('its counter or owner changed before the shard-end checkpoint');
        return false;
      }
      this.counter += 1;
      this.currentState = 'finished';
      this.checkpointWritten(position, startedAt, 'shard-end');
      return true;
    });
  }

  /**
   * At stop: checkpoints what was processed and releases the lease in the same write (only releases
   * when nothing new was processed), so that another worker takes it at once. True when released.
   */
  release(): Promise<boolean> {
    return this.serialized(async () => {
      if (this.currentState !== 'held') return false;
      const { table, options } = this.host;
      const position = this.processedUpTo;
      const progressed = position !== undefined && !samePosition(position, this.checkpointed);
      const startedAt = options.clock.now();
      const written = progressed
        ? await table.checkpoint(this.shardId, this.counter, options.workerId, position, { release: true })
        : await table.release(this.shardId, this.counter, options.workerId);
      if (!written) {
        this.lose('its counter or owner changed before the final checkpoint');
        return false;
      }
      this.counter += 1;
      this.currentState = 'released';
      if (progressed) this.checkpointWritten(position, startedAt, 'stop');
      this.host.counts.leasesReleased += 1;
      this.host.report('leaseReleased', { shardId: this.shardId });
      return true;
    });
  }

  /** Stops the shard at once, without a checkpoint. */
  lose(reason: string): void {
    if (this.currentState !== 'held') return;
    this.currentState = 'lost';
    const error = new LeaseLostError(this.shardId, reason);
    this.fetching.abort(error);
    this.processing.abort(error);
    this.host.counts.leasesLost += 1;
    this.host.forget(this.shardId);
    this.host.report('leaseLost', { shardId: this.shardId, reason }, 'warn');
  }

  /** As a crash would: everything stops, nothing more is written. */
  abandon(): void {
    if (this.currentState === 'held') this.currentState = 'abandoned';
    const error = new LeaseLostError(this.shardId, 'the worker was abandoned');
    this.fetching.abort(error);
    this.processing.abort(error);
  }

  private checkpointWritten(position: Checkpoint, at: number, reason: 'interval' | 'stop' | 'shard-end'): void {
    this.checkpointed = position;
    this.lastCheckpointAt = at;
    this.host.counts.checkpoints += 1;
    this.host.report('checkpoint', { shardId: this.shardId, ...position, reason }, 'debug');
  }

  private serialized<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writes.then(write);
    this.writes = result.catch(() => undefined);
    return result;
  }
}

function samePosition(a: Checkpoint, b: Checkpoint): boolean {
  return a.sequenceNumber === b.sequenceNumber && a.subSequenceNumber === b.subSequenceNumber;
}
