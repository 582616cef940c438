// The stream consumer: shares a Kinesis stream's shards among workers through a lease table in KCL
// 2.x's format, reads each held shard in order (ShardReader), checkpoints after processing, resumes
// from the checkpoints after a crash or a deploy, takes a dead worker's shards once their leases
// expire, balances shards between workers, reads children only after their parents, and on a
// graceful stop checkpoints and releases its leases so the other workers take them at once.
import { TypedEmitter } from '../typed-emitter.ts';
import type { LogLevel } from '../json-logger.ts';
import { awsCodeOf, isAccessError } from './aws-error-kind.ts';
import { asError, StopDeadlineError, StreamAccessError, StreamCallError, StreamConsumerError } from './errors.ts';
import { FailureQueue } from './failure-queue.ts';
import { HeldLease } from './held-lease.ts';
import { isFinished, type Lease } from './lease.ts';
import { planLeaseTakes, type LeaseStanding } from './lease-balancer.ts';
import { LeaseExpiry } from './lease-expiry.ts';
import { LeaseTable, parentsFinished } from './lease-table.ts';
import { retryDelayMs } from './retry-delay.ts';
import type { MutableCounters, ShardHost } from './shard-host.ts';
import { ShardReader } from './shard-reader.ts';
import { listAllShards, planNewLeases } from './shard-sync.ts';
import type { StopSummary, StreamConsumerCounters, StreamConsumerEvents } from './stream-consumer-events.ts';
import { type ResolvedStreamConsumerOptions, resolveStreamConsumerOptions, type StreamConsumerOptions } from './stream-consumer-options.ts';

export interface StopOptions {
  /**
   * Milliseconds that the batches in hand get to finish; then their signals are aborted. Match it to
   * the service manager's stop timeout minus a margin for the final checkpoints.
   * @default the consumer's stopDeadlineMs (30 seconds)
   */
  readonly deadline?: number;
}

type Phase = 'idle' | 'running' | 'stopping' | 'stopped';

export class StreamConsumer extends TypedEmitter<StreamConsumerEvents> {
  private readonly options: ResolvedStreamConsumerOptions;
  private readonly table: LeaseTable;
  private readonly expiry: LeaseExpiry;
  private readonly host: ShardHost;
  private phase: Phase = 'idle';
  private readonly held = new Map<string, HeldLease>();
  /** Every reader still running, including those of lost leases winding down: a shard is never read twice at once here. */
  private readonly readers = new Map<string, Promise<void>>();
  private readonly behind = new Map<string, number>();
  /** Ends the scan and shard-sync loop. */
  private readonly coordination = new AbortController();
  /** Ends the renewals; they go on during a graceful stop until the final checkpoints are written. */
  private readonly renewals = new AbortController();
  private wakeUp: AbortController | undefined;
  private coordinator: Promise<void> = Promise.resolve();
  private renewer: Promise<void> = Promise.resolve();
  private readonly counts: MutableCounters = {
    recordsProcessed: 0,
    batchesProcessed: 0,
    batchFailures: 0,
    recordsSentToFailureQueue: 0,
    checkpoints: 0,
    leasesTaken: 0,
    leasesStolen: 0,
    leasesLost: 0,
    leasesReleased: 0,
    getRecordsCalls: 0,
    awsErrors: 0,
  };
  private stopping: Promise<StopSummary> | undefined;
  private readonly stopped: Promise<StopSummary>;
  private resolveStopped!: (summary: StopSummary) => void;

  constructor(options: StreamConsumerOptions) {
    super();
    this.options = resolveStreamConsumerOptions(options);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.table = new LeaseTable(this.options.dynamodb, this.options.leaseTableName);
    this.expiry = new LeaseExpiry(this.options.leaseDurationMs);
    const { failureQueue } = this.options;
    this.host = {
      options: this.options,
      table: this.table,
      counts: this.counts,
      ...(failureQueue
        ? {
            failureQueue: new FailureQueue({
              ...failureQueue,
              streamName: this.options.streamName,
              clock: this.options.clock,
              retryBackoff: this.options.awsRetryBackoff,
              onSendError: (error) => {
                this.counts.awsErrors += 1;
                this.reportError(new StreamCallError('SQS', 'SendMessageBatch', awsCodeOf(error), error.message, undefined, { cause: error }));
              },
            }),
          }
        : {}),
      report: (name, payload, level) => this.report(name, payload, level),
      reportError: (error, shardId, level) => this.reportError(error, shardId, level),
      forget: (shardId) => {
        this.held.delete(shardId);
        this.behind.delete(shardId);
      },
      behind: (shardId, millisBehindLatest) => this.behind.set(shardId, millisBehindLatest),
    };
  }

  /** This worker's `leaseOwner` value. */
  get workerId(): string {
    return this.options.workerId;
  }

  get counters(): StreamConsumerCounters {
    return { ...this.counts, leasesHeld: this.held.size, millisBehindLatest: Object.fromEntries(this.behind) };
  }

  /** Shards whose leases this worker holds now. */
  get heldShards(): string[] {
    return [...this.held.keys()].sort();
  }

  /** Starts taking leases and reading. Calling it again while running does nothing; after stop() it throws. */
  start(): this {
    if (this.phase === 'running') return this;
    if (this.phase !== 'idle') {
      throw new StreamConsumerError('start() was called after stop(); a stopped StreamConsumer cannot restart, create a new one', 'AlreadyStopped');
    }
    this.phase = 'running';
    this.log('info', 'started', { workerId: this.workerId, leaseTableName: this.options.leaseTableName, leaseDurationMs: this.options.leaseDurationMs });
    this.coordinator = this.coordinate();
    this.renewer = this.renew();
    return this;
  }

  /**
   * Stops gracefully: takes no more leases, stops reading, lets the batch in hand of every shard
   * finish until the deadline and then aborts its `signal`, checkpoints what was processed and
   * releases every lease in the same write, so that other workers take the shards at once. Resolves
   * when everything has settled; calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<StopSummary> {
    if (this.stopping) return this.stopping;
    if (this.phase === 'idle') {
      this.phase = 'stopped';
      const summary: StopSummary = { reason: 'requested', abortedAtDeadline: 0, released: 0, durationMs: 0, counters: this.counters };
      this.resolveStopped(summary);
      this.stopping = Promise.resolve(summary);
      return this.stopping;
    }
    this.stopping = this.shutdown(options.deadline ?? this.options.stopDeadlineMs, 'requested');
    return this.stopping;
  }

  /**
   * Stops at once without a final checkpoint or release, as if the process had died: the leases
   * expire after a lease duration and their next owners resume from the last checkpoints. For tests
   * of crash recovery, and for a process that must not write anything more.
   */
  async abandon(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.coordination.abort();
    this.renewals.abort();
    this.wakeUp?.abort();
    for (const held of this.held.values()) held.abandon();
    await this.settled([...this.readers.values()], this.options.abortGraceMs);
    await Promise.all([this.coordinator, this.renewer]);
    this.held.clear();
    this.log('warn', 'abandoned', {});
  }

  /** Resolves when the consumer has stopped, whether stop() was called or AWS refused it (reason `fatal`). */
  whenStopped(): Promise<StopSummary> {
    return this.stopped;
  }

  // ---- leases --------------------------------------------------------------------------------------

  /** Syncs shards, then scans and takes leases until stopped; paces itself by scan interval and lease expiry. */
  private async coordinate(): Promise<void> {
    let lastSync: number | undefined;
    let failures = 0;
    while (this.phase === 'running') {
      try {
        if (lastSync === undefined || this.options.clock.now() - lastSync >= this.options.shardSyncIntervalMs) {
          await this.syncShards();
          lastSync = this.options.clock.now();
        }
        const leases = await this.scanAndTake();
        failures = 0;
        const now = this.options.clock.now();
        const watched = leases.filter((lease) => lease.leaseOwner !== undefined && !this.held.has(lease.leaseKey) && !isFinished(lease));
        const nextExpiry = this.expiry.nextExpiryAt(watched, now);
        // Scan again as soon as a watched lease expires: failover then takes one lease duration plus a request.
        await this.nap(Math.min(this.options.leaseScanIntervalMs, nextExpiry === undefined ? Infinity : nextExpiry - now + 1));
      } catch (error) {
        if (this.phase !== 'running') return;
        const operation = (error as { operation?: string }).operation ?? 'Scan';
        if (isAccessError(error, true)) {
          const service = operation === 'ListShards' ? 'Kinesis' : 'DynamoDB';
          void this.fail(new StreamAccessError(service, operation, awsCodeOf(error), asError(error).message, { cause: error }));
          return;
        }
        failures += 1;
        this.counts.awsErrors += 1;
        this.reportError(new StreamCallError(operation === 'ListShards' ? 'Kinesis' : 'DynamoDB', operation, awsCodeOf(error), asError(error).message, undefined, { cause: error }));
        await this.nap(retryDelayMs(failures, this.options.awsRetryBackoff, true));
      }
    }
  }

  /** Creates the leases of shards that have none (parents first); a worker that loses a creation race just moves on. */
  private async syncShards(): Promise<void> {
    const shards = await tagged('ListShards', () => listAllShards(this.options.kinesis, this.options.streamName, this.coordination.signal));
    const leases = await tagged('Scan', () => this.table.list(this.coordination.signal));
    for (const lease of planNewLeases(shards, leases, this.options.initialPosition)) {
      if (this.phase !== 'running') return;
      if (await tagged('UpdateItem', () => this.table.create(lease))) this.log('info', 'lease_created', { shardId: lease.leaseKey, checkpoint: lease.checkpoint, parentShardIds: lease.parentShardIds });
    }
  }

  private async scanAndTake(): Promise<Lease[]> {
    const scanStartedAt = this.options.clock.now();
    const leases = await tagged('Scan', () => this.table.list(this.coordination.signal));
    const now = this.options.clock.now();
    this.expiry.observe(leases, now);
    const byKey = new Map(leases.map((lease) => [lease.leaseKey, lease]));

    // A scan sees a lost lease before the next renewal would.
    for (const held of [...this.held.values()]) {
      if (held.takenAt > scanStartedAt) continue;
      const lease = byKey.get(held.shardId);
      if (!lease) held.lose('its lease item was deleted');
      else if (lease.leaseOwner !== this.workerId) held.lose(lease.leaseOwner === undefined ? 'a replay moved its checkpoint' : `${lease.leaseOwner} owns it now`);
    }

    const workable = leases.filter((lease) => !isFinished(lease) && parentsFinished(lease, byKey));
    const standings = workable.map((lease): LeaseStanding => {
      if (this.held.has(lease.leaseKey)) return { leaseKey: lease.leaseKey, holder: this.workerId };
      if (lease.leaseOwner === undefined) return { leaseKey: lease.leaseKey, unowned: true };
      // Owned by this worker's id but not held: left by an earlier run under the same id.
      if (lease.leaseOwner === this.workerId || this.expiry.isExpired(lease, now)) return { leaseKey: lease.leaseKey };
      return { leaseKey: lease.leaseKey, holder: lease.leaseOwner };
    });
    const plan = planLeaseTakes({ workerId: this.workerId, leases: standings, maxLeasesPerWorker: this.options.maxLeasesPerWorker });
    // Takes run one after another so that no scan overlaps a take (see the lost-lease check above).
    for (const leaseKey of plan.take) await this.take(byKey.get(leaseKey)!, false);
    if (plan.steal) await this.take(byKey.get(plan.steal.leaseKey)!, true);
    return leases;
  }

  private async take(lease: Lease, stolen: boolean): Promise<void> {
    // The reader of an earlier hold may still be winding down; take the lease at a later scan.
    if (this.phase !== 'running' || this.readers.has(lease.leaseKey)) return;
    const takenAt = this.options.clock.now();
    const taken = await tagged('UpdateItem', () => this.table.take(lease, this.workerId));
    if (!taken) return;
    const held = new HeldLease(taken, takenAt, this.host);
    if (this.phase !== 'running') {
      // The stop began while the take was in flight.
      await held.release().catch((error: unknown) => this.reportError(asError(error), lease.leaseKey));
      return;
    }
    this.held.set(lease.leaseKey, held);
    this.counts.leasesTaken += 1;
    if (stolen) this.counts.leasesStolen += 1;
    this.report('leaseTaken', { shardId: lease.leaseKey, ...(lease.leaseOwner !== undefined ? { previousOwner: lease.leaseOwner } : {}), stolen });
    const reader = new ShardReader(held, this.host).run().finally(() => {
      this.readers.delete(lease.leaseKey);
      if (held.state === 'finished') {
        this.host.forget(lease.leaseKey);
        // Its children may be workable now.
        this.wakeUp?.abort();
      } else if (held.state === 'held' && this.phase === 'running') {
        // The reader failed unexpectedly (already reported): hand the lease back rather than renew it unread.
        this.host.forget(lease.leaseKey);
        void held.release().catch((error: unknown) => this.reportError(asError(error), lease.leaseKey));
      }
    });
    this.readers.set(lease.leaseKey, reader);
  }

  private async renew(): Promise<void> {
    for (;;) {
      try {
        await this.options.clock.sleep(this.options.renewIntervalMs, this.renewals.signal);
      } catch {
        return;
      }
      await Promise.all([...this.held.values()].map((held) => held.renew()));
    }
  }

  /** Sleeps up to `ms`; a finished shard or the stop wakes it early. */
  private async nap(ms: number): Promise<void> {
    const wakeUp = new AbortController();
    this.wakeUp = wakeUp;
    const onStop = () => wakeUp.abort();
    this.coordination.signal.addEventListener('abort', onStop, { once: true });
    try {
      await this.options.clock.sleep(Math.max(0, ms), wakeUp.signal);
    } catch {
      // Woken early.
    } finally {
      this.coordination.signal.removeEventListener('abort', onStop);
    }
  }

  // ---- stopping ------------------------------------------------------------------------------------

  private fail(error: StreamAccessError): Promise<StopSummary> {
    this.reportError(error, undefined, 'error');
    this.stopping ??= this.shutdown(this.options.stopDeadlineMs, 'fatal', error);
    return this.stopping;
  }

  private async shutdown(deadlineMs: number, reason: StopSummary['reason'], error?: Error): Promise<StopSummary> {
    const startedAt = this.options.clock.now();
    this.phase = 'stopping';
    this.log(reason === 'fatal' ? 'error' : 'info', 'stopping', { reason, deadlineMs, leasesHeld: this.held.size, ...(error ? { error } : {}) });
    this.coordination.abort();
    await this.coordinator;

    const holding = [...this.held.values()];
    for (const held of holding) held.fetching.abort();
    const readers = [...this.readers.values()];
    const finishedInTime = await this.settled(readers, deadlineMs);
    let abortedAtDeadline = 0;
    if (!finishedInTime) {
      for (const held of holding) {
        if (!this.readers.has(held.shardId)) continue;
        abortedAtDeadline += 1;
        held.processing.abort(new StopDeadlineError(held.shardId, deadlineMs));
      }
      await this.settled(readers, this.options.abortGraceMs);
    }

    const released = await Promise.all(
      [...this.held.values()].map((held) =>
        held.release().catch((releaseError: unknown) => {
          this.reportError(asError(releaseError), held.shardId);
          return false;
        }),
      ),
    );
    this.renewals.abort();
    await this.renewer;
    this.held.clear();
    this.behind.clear();
    this.phase = 'stopped';

    const summary: StopSummary = {
      reason,
      ...(error ? { error } : {}),
      abortedAtDeadline,
      released: released.filter(Boolean).length,
      durationMs: this.options.clock.now() - startedAt,
      counters: this.counters,
    };
    this.log(reason === 'fatal' ? 'error' : 'info', 'stopped', { ...summary, counters: undefined, ...summary.counters });
    this.safeEmit('stopped', summary);
    this.resolveStopped(summary);
    return summary;
  }

  /** Waits until `work` has settled or `ms` passed; true when it settled. */
  private async settled(work: readonly Promise<unknown>[], ms: number): Promise<boolean> {
    const timeUp = new AbortController();
    const deadline = this.options.clock.sleep(ms, timeUp.signal).then(
      () => false,
      () => false,
    );
    const result = await Promise.race([Promise.all(work).then(() => true), deadline]);
    timeUp.abort();
    return result;
  }

  // ---- reporting -----------------------------------------------------------------------------------

  private report<Name extends keyof StreamConsumerEvents & string>(name: Name, payload: StreamConsumerEvents[Name], level: LogLevel = 'info'): void {
    this.log(level, snakeCase(name), payload as Record<string, unknown>);
    this.safeEmit(name, payload);
  }

  private reportError(error: Error, shardId?: string, level: LogLevel = 'warn'): void {
    this.log(level, 'error', { error, ...(shardId ? { shardId } : {}) });
    this.safeEmit('error', { error, ...(shardId ? { shardId } : {}) });
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
    this.options.logger.log(level, event, { streamName: this.options.streamName, workerId: this.options.workerId, ...fields });
  }

  /** A listener that throws must not break the consumer; an `error` event nobody listens to is already logged. */
  private safeEmit<Name extends keyof StreamConsumerEvents & string>(name: Name, payload: StreamConsumerEvents[Name]): void {
    try {
      this.emit(name, payload);
    } catch (listenerError) {
      if ((listenerError as { code?: string }).code === 'ERR_UNHANDLED_ERROR') return;
      this.options.logger.log('error', 'listener_failed', { event: name, error: asError(listenerError) });
    }
  }
}

/** Runs an AWS call and remembers which operation failed, for the coordinator's error report. */
async function tagged<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error) Object.assign(error, { operation });
    throw error;
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
