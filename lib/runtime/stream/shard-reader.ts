// Reads one shard while its lease is held: an iterator from the checkpoint, then GetRecords in a
// loop — the next call goes out while the processor works on the current batch (one batch of
// read-ahead), with no pause while there is a backlog, `idleWaitMs` once caught up, and never more
// than 5 calls per second. Throttling (ProvisionedThroughputExceeded) and other failures back off; an
// expired iterator is replaced by one after the last processed record. A failing batch is retried
// with back-off, then its failing record goes to the failure queue (see processWithRetries). At the
// shard's end the children get their leases and the shard is checkpointed SHARD_END.
import {
  type ChildShard,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { awsCodeOf } from './aws-error-kind.ts';
import { asError, StreamCallError } from './errors.ts';
import type { HeldLease } from './held-lease.ts';
import { AT_TIMESTAMP, LATEST, SHARD_END, TRIM_HORIZON } from './lease.ts';
import { retryDelayMs } from './retry-delay.ts';
import type { ShardHost } from './shard-host.ts';
import { listAllShards, parentsOf } from './shard-sync.ts';
import { MIN_GET_RECORDS_GAP_MS } from './stream-consumer-options.ts';
import { indexOfFirstFailure, type StreamRecord } from './stream-record.ts';

type FetchResult =
  | { readonly kind: 'records'; readonly records: readonly _Record[]; readonly nextIterator?: string; readonly millisBehindLatest: number; readonly childShards?: readonly ChildShard[] }
  | { readonly kind: 'expired' }
  | { readonly kind: 'aborted' };

/** The shard is gone (past retention): there is nothing left to read. */
const GONE = Symbol('gone');

interface Child {
  readonly shardId: string;
  readonly parents: readonly string[];
  readonly startingHashKey?: string;
  readonly endingHashKey?: string;
}

export class ShardReader {
  private lastCallAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly held: HeldLease,
    private readonly host: ShardHost,
  ) {}

  private get shardId(): string {
    return this.held.shardId;
  }

  /** Reads until the shard ends, the lease is lost or the fetching signal is aborted; never rejects. */
  async run(): Promise<void> {
    try {
      await this.read();
    } catch (error) {
      if (!this.held.fetching.signal.aborted) this.host.reportError(asError(error), this.shardId, 'error');
    }
  }

  private async read(): Promise<void> {
    let fetch: Promise<FetchResult> | undefined;
    for (;;) {
      if (!fetch) {
        const iterator = await this.iterator();
        if (iterator === undefined) return;
        if (iterator === GONE) return this.endShard(undefined);
        fetch = this.fetch(iterator, 0);
      }
      const result = await fetch;
      fetch = undefined;
      if (result.kind === 'aborted') return;
      if (result.kind === 'expired') continue;

      const { records, nextIterator, millisBehindLatest, childShards } = result;
      this.host.behind(this.shardId, millisBehindLatest);
      const caughtUp = records.length === 0 && millisBehindLatest === 0;
      // Read ahead while the processor works; the prefetched answer waits if processing is slow.
      if (nextIterator) fetch = this.fetch(nextIterator, caughtUp ? this.host.options.idleWaitMs : 0);
      if (records.length > 0 && !(await this.process(records.map((record) => toStreamRecord(record, this.shardId)), millisBehindLatest))) return;
      if (!nextIterator) return this.endShard(childShards);
    }
  }

  // ---- Kinesis calls -----------------------------------------------------------------------------

  /** An iterator after the last processed record, else from the checkpoint the lease was taken with. */
  private async iterator(): Promise<string | typeof GONE | undefined> {
    const { options } = this.host;
    const request = this.iteratorRequest();
    if (request === GONE) return GONE;
    for (let failures = 1; ; failures++) {
      if (this.held.fetching.signal.aborted) return undefined;
      try {
        const { ShardIterator } = await options.kinesis.send(new GetShardIteratorCommand(request), { abortSignal: this.held.fetching.signal });
        return ShardIterator;
      } catch (error) {
        if (this.held.fetching.signal.aborted) return undefined;
        if (awsCodeOf(error) === 'ResourceNotFoundException') {
          this.host.report('error', { error: this.callError('GetShardIterator', error), shardId: this.shardId }, 'warn');
          return GONE;
        }
        if (!(await this.backOff('GetShardIterator', error, failures))) return undefined;
      }
    }
  }

  private iteratorRequest(): GetShardIteratorCommandInput | typeof GONE {
    const { options } = this.host;
    const base = { StreamName: options.streamName, ShardId: this.shardId };
    const processed = this.held.processed;
    if (processed) return { ...base, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: processed.sequenceNumber };
    const { checkpoint, checkpointTimestamp } = this.held.taken;
    switch (checkpoint.sequenceNumber) {
      case TRIM_HORIZON:
      case LATEST:
        return { ...base, ShardIteratorType: checkpoint.sequenceNumber };
      case AT_TIMESTAMP: {
        const timestamp = checkpointTimestamp ?? options.initialPosition.timestamp;
        if (timestamp !== undefined) return { ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(timestamp) };
        // KCL wrote AT_TIMESTAMP with a time only its own configuration knew: reading everything skips nothing.
        this.host.options.logger.log('warn', 'at_timestamp_without_time', { shardId: this.shardId, readingFrom: TRIM_HORIZON });
        return { ...base, ShardIteratorType: TRIM_HORIZON };
      }
      case SHARD_END:
        return GONE;
      default:
        // A sub-sequence number means KCL stopped inside an aggregated record; this consumer does not
        // de-aggregate, so it reads that record again rather than skip the rest of it.
        return {
          ...base,
          ShardIteratorType: checkpoint.subSequenceNumber > 0 ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER',
          StartingSequenceNumber: checkpoint.sequenceNumber,
        };
    }
  }

  /** One GetRecords after `delayMs` (and at least MIN_GET_RECORDS_GAP_MS after the previous call); never rejects. */
  private async fetch(iterator: string, delayMs: number): Promise<FetchResult> {
    const { options, counts } = this.host;
    const signal = this.held.fetching.signal;
    try {
      const wait = Math.max(delayMs, this.lastCallAt + MIN_GET_RECORDS_GAP_MS - options.clock.now());
      if (wait > 0) await options.clock.sleep(wait, signal);
      for (let failures = 1; ; failures++) {
        this.lastCallAt = options.clock.now();
        counts.getRecordsCalls += 1;
        try {
          const answer = await options.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: options.maxRecordsPerCall }), { abortSignal: signal });
          return {
            kind: 'records',
            records: answer.Records ?? [],
            ...(answer.NextShardIterator ? { nextIterator: answer.NextShardIterator } : {}),
            millisBehindLatest: answer.MillisBehindLatest ?? 0,
            ...(answer.ChildShards ? { childShards: answer.ChildShards } : {}),
          };
        } catch (error) {
          if (signal.aborted) return { kind: 'aborted' };
          const code = awsCodeOf(error);
          if (code === 'ExpiredIteratorException') return { kind: 'expired' };
          if (!(await this.backOff('GetRecords', error, failures))) return { kind: 'aborted' };
          // A rejected iterator (InvalidArgumentException) will not get better: start again from the last processed record.
          if (code === 'InvalidArgumentException') return { kind: 'expired' };
        }
      }
    } catch {
      return { kind: 'aborted' };
    }
  }

  /** Reports a failed call and waits (at least the GetRecords gap); false when the wait was aborted. */
  private async backOff(operation: string, error: unknown, failures: number, service: StreamCallError['service'] = 'Kinesis'): Promise<boolean> {
    const { options, counts } = this.host;
    counts.awsErrors += 1;
    const throttled = awsCodeOf(error) === 'ProvisionedThroughputExceededException';
    this.host.reportError(this.callError(operation, error, service), this.shardId, throttled ? 'info' : 'warn');
    try {
      await options.clock.sleep(Math.max(MIN_GET_RECORDS_GAP_MS, retryDelayMs(failures, options.awsRetryBackoff, true)), this.held.fetching.signal);
      return true;
    } catch {
      return false;
    }
  }

  private callError(operation: string, error: unknown, service: StreamCallError['service'] = 'Kinesis'): StreamCallError {
    return new StreamCallError(service, operation, awsCodeOf(error), asError(error).message, this.shardId, { cause: error });
  }

  // ---- processing --------------------------------------------------------------------------------

  /** Processes a batch; false when the lease was lost or the consumer is stopping before it was done. */
  private async process(records: readonly StreamRecord[], millisBehindLatest: number): Promise<boolean> {
    const startedAt = this.host.options.clock.now();
    if (!(await this.processWithRetries(records))) return false;
    this.host.counts.batchesProcessed += 1;
    this.host.report('batchProcessed', { shardId: this.shardId, records: records.length, millisBehindLatest, durationMs: this.host.options.clock.now() - startedAt }, 'debug');
    return true;
  }

  /**
   * Runs the processor until every record is done or sent to the failure queue. Records before the
   * one a RecordProcessingError names are done; the retries are counted per failing record. When the
   * retries run out and the processor did not name the failed record, each remaining record is run
   * alone (with its own retries), so that only the poison record goes to the failure queue and the
   * others are processed, in order. Without a failure queue the failing record is retried for as long
   * as it fails, and the shard waits.
   */
  private async processWithRetries(batch: readonly StreamRecord[]): Promise<boolean> {
    const { options, counts, failureQueue } = this.host;
    let remaining = batch;
    let attempt = 0;
    let failingSequenceNumber: string | undefined;
    while (remaining.length > 0) {
      const outcome = await this.runProcessor(remaining);
      if (outcome.ok) {
        this.done(remaining, remaining.length);
        return this.stillHeld();
      }
      if (!this.stillHeld()) return false;
      const { index, named } = indexOfFirstFailure(remaining, outcome.error);
      if (index > 0) {
        this.done(remaining, index);
        remaining = remaining.slice(index);
      }
      const failing = remaining[0]!;
      attempt = failing.sequenceNumber === failingSequenceNumber ? attempt + 1 : 1;
      failingSequenceNumber = failing.sequenceNumber;
      counts.batchFailures += 1;

      if (attempt > options.processorRetries && !named && remaining.length > 1) {
        for (const record of remaining) if (!(await this.processWithRetries([record]))) return false;
        return true;
      }
      if (attempt > options.processorRetries && failureQueue) {
        if (!(await this.sendToFailureQueue(failing, outcome.error, attempt))) return false;
        remaining = remaining.slice(1);
        attempt = 0;
        failingSequenceNumber = undefined;
        continue;
      }
      const retryInMs = retryDelayMs(attempt, options.processorRetryBackoff);
      this.host.report('batchFailed', { shardId: this.shardId, sequenceNumber: failing.sequenceNumber, records: remaining.length, attempt, error: outcome.error, retryInMs }, 'warn');
      try {
        await options.clock.sleep(retryInMs, this.held.fetching.signal);
      } catch {
        return false;
      }
    }
    return true;
  }

  private async runProcessor(records: readonly StreamRecord[]): Promise<{ readonly ok: true } | { readonly ok: false; readonly error: Error }> {
    try {
      await this.host.options.processor(records, { shardId: this.shardId, signal: this.held.processing.signal });
      return { ok: true };
    } catch (error) {
      return { ok: false, error: asError(error) };
    }
  }

  /** The first `count` records are done. */
  private done(records: readonly StreamRecord[], count: number): void {
    this.held.markProcessed(records[count - 1]!);
    this.host.counts.recordsProcessed += count;
  }

  private stillHeld(): boolean {
    return this.held.state === 'held' && !this.held.processing.signal.aborted;
  }

  private async sendToFailureQueue(record: StreamRecord, error: Error, attempts: number): Promise<boolean> {
    try {
      await this.host.failureQueue!.send(this.shardId, [record], error, attempts, this.held.processing.signal);
    } catch {
      return false;
    }
    this.held.markProcessed(record);
    this.host.counts.recordsSentToFailureQueue += 1;
    this.host.report('sentToFailureQueue', { shardId: this.shardId, sequenceNumber: record.sequenceNumber, error }, 'warn');
    return this.stillHeld();
  }

  // ---- shard end -----------------------------------------------------------------------------------

  /** Creates the children's leases (both parents for a merge), then checkpoints SHARD_END with the children named. */
  private async endShard(childShards: readonly ChildShard[] | undefined): Promise<void> {
    const children = childShards && childShards.length > 0 ? childShards.map(childFromAnswer) : await this.retrying('ListShards', () => this.childrenFromListShards());
    if (children === undefined) return;
    for (const child of children) {
      const created = await this.retrying('UpdateItem', () =>
        this.host.table.create({
          leaseKey: child.shardId,
          checkpoint: TRIM_HORIZON,
          parentShardIds: child.parents,
          ...(child.startingHashKey !== undefined ? { startingHashKey: child.startingHashKey, endingHashKey: child.endingHashKey } : {}),
        }),
      );
      if (created === undefined) return;
    }
    const childShardIds = children.map((child) => child.shardId);
    const ended = await this.retrying('UpdateItem', () => this.held.endShard(childShardIds));
    if (ended) this.host.report('shardEnded', { shardId: this.shardId, childShardIds });
  }

  private async childrenFromListShards(): Promise<Child[]> {
    const shards = await listAllShards(this.host.options.kinesis, this.host.options.streamName, this.held.fetching.signal);
    return shards
      .filter((shard) => parentsOf(shard).includes(this.shardId))
      .map((shard) => ({
        shardId: shard.ShardId!,
        parents: parentsOf(shard),
        ...(shard.HashKeyRange ? { startingHashKey: shard.HashKeyRange.StartingHashKey!, endingHashKey: shard.HashKeyRange.EndingHashKey! } : {}),
      }));
  }

  /** Runs `call` until it succeeds; undefined when the fetching signal aborted first. */
  private async retrying<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
    const service = operation === 'ListShards' ? 'Kinesis' : 'DynamoDB';
    for (let failures = 1; ; failures++) {
      if (this.held.fetching.signal.aborted) return undefined;
      try {
        return await call();
      } catch (error) {
        if (this.held.fetching.signal.aborted || !(await this.backOff(operation, error, failures, service))) return undefined;
      }
    }
  }
}

function childFromAnswer(child: ChildShard): Child {
  return {
    shardId: child.ShardId!,
    parents: child.ParentShards ?? [],
    ...(child.HashKeyRange ? { startingHashKey: child.HashKeyRange.StartingHashKey!, endingHashKey: child.HashKeyRange.EndingHashKey! } : {}),
  };
}

function toStreamRecord(record: _Record, shardId: string): StreamRecord {
  return {
    partitionKey: record.PartitionKey ?? '',
    sequenceNumber: record.SequenceNumber ?? '',
    data: record.Data ?? new Uint8Array(),
    approximateArrivalTimestamp: record.ApproximateArrivalTimestamp ?? new Date(0),
    shardId,
  };
}
