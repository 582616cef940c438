// The StreamConsumer's options, their defaults, and the check that lists every bad one at once.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../clock.ts';
import { jsonLogger, type Logger } from '../json-logger.ts';
import { Problems } from '../problems.ts';
import { InvalidStreamConsumerOptionsError } from './errors.ts';
import { AT_TIMESTAMP, LATEST, TRIM_HORIZON } from './lease.ts';
import { monotonicClock } from './monotonic-clock.ts';
import type { RecordProcessor } from './stream-record.ts';

/** Where a shard with no checkpoint yet starts. */
export type InitialPosition = 'TRIM_HORIZON' | 'LATEST' | { readonly timestamp: Date };

export interface ResolvedInitialPosition {
  readonly checkpoint: typeof TRIM_HORIZON | typeof LATEST | typeof AT_TIMESTAMP;
  /** Milliseconds since the epoch, for AT_TIMESTAMP. */
  readonly timestamp?: number;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface StreamConsumerOptions {
  /**
   * Every Kinesis call goes through it. Against kinesalite (HTTP/1.1 only) give it
   * `requestHandler: new NodeHttpHandler()`; the SDK's default for Kinesis is HTTP/2.
   */
  readonly kinesis: KinesisClient;
  /** Every lease-table call goes through it. */
  readonly dynamodb: DynamoDBClient;
  readonly streamName: string;
  /** The lease table (KCL 2.x format: hash key `leaseKey`, a string). */
  readonly leaseTableName: string;
  readonly processor: RecordProcessor;
  /**
   * Where records that still fail after `processorRetries` go, with their shard, sequence number and
   * error, so that the shard moves on.
   * @default - none: a failing record is retried until it succeeds, and its shard waits
   */
  readonly failureQueue?: { readonly sqs: SQSClient; readonly queueUrl: string };
  /**
   * This worker's name in `leaseOwner`; unique per process.
   * @default `<hostname>:<pid>:<random>`
   */
  readonly workerId?: string;
  /**
   * Where a shard that has no checkpoint starts (a checkpoint, once written, always wins).
   * @default 'TRIM_HORIZON' - everything still in the stream is processed
   */
  readonly initialPosition?: InitialPosition;
  /**
   * How long a lease whose counter does not change counts as alive. Also the failover time: a
   * crashed worker's shards are taken within about `leaseDurationMs + leaseScanIntervalMs`. Leases are
   * renewed every third of it.
   * @default 10 seconds
   */
  readonly leaseDurationMs?: number;
  /**
   * How often the table is scanned to take free, expired or (for balance) stolen leases. Sets how
   * soon released leases are picked up after another worker's graceful stop: within one interval
   * plus a take and a GetRecords, so the default keeps a deploy's handoff under a second. A scan of
   * a lease table (one small item per shard) costs about one read unit: at two a second a worker
   * spends about $0.65 a month on them (on-demand, us-east-1).
   * @default 500 milliseconds
   */
  readonly leaseScanIntervalMs?: number;
  /** @default 10000 */
  readonly maxLeasesPerWorker?: number;
  /**
   * How often ListShards runs to find shards without a lease (children found at a shard's end get
   * their lease at once either way).
   * @default 60 seconds
   */
  readonly shardSyncIntervalMs?: number;
  /**
   * Records per GetRecords call, 1–10000.
   * @default 10000
   */
  readonly maxRecordsPerCall?: number;
  /**
   * Pause between GetRecords calls once a shard is caught up (there is no pause while behind; calls
   * are never closer than 210 ms, within the limit of 5 per second).
   * @default 1 second
   */
  readonly idleWaitMs?: number;
  /**
   * Least time between two checkpoints of a shard during a run; a checkpoint rides on a lease renewal,
   * so it costs no extra write. Stop and shard end always checkpoint.
   * @default 10 seconds
   */
  readonly checkpointIntervalMs?: number;
  /**
   * Retries of a failing batch (then of each of its records alone when the processor did not name
   * the failed one) before a record goes to the failure queue.
   * @default 3
   */
  readonly processorRetries?: number;
  /**
   * Pause before the n-th retry of a failing batch: `initialMs × 2^(n−1)`, capped at `maxMs`.
   * @default { initialMs: 200, maxMs: 5000 }
   */
  readonly processorRetryBackoff?: Backoff;
  /**
   * Pause after a failed AWS call (throttling such as ProvisionedThroughputExceeded, network, server
   * errors), doubling per consecutive failure, with jitter.
   * @default { initialMs: 200, maxMs: 10000 }
   */
  readonly awsRetryBackoff?: Backoff;
  /**
   * How long the batch in hand may finish when stop() is called without a deadline.
   * @default 30 seconds
   */
  readonly stopDeadlineMs?: number;
  /**
   * After a processor's signal is aborted, how long to wait for it to settle before going on without it.
   * @default 1 second
   */
  readonly abortGraceMs?: number;
  /**
   * Judges lease expiry and paces every loop; `now()` must be monotonic.
   * @default - the process's monotonic clock
   */
  readonly clock?: Clock;
  /** @default - JSON lines on standard output, component `stream-consumer`, level info */
  readonly logger?: Logger;
}

/** Every option with its default applied; the initial position in lease-table terms, plus the renewal interval derived from the lease duration. */
export type ResolvedStreamConsumerOptions = Readonly<Required<Omit<StreamConsumerOptions, 'failureQueue' | 'initialPosition'>>> & {
  readonly failureQueue?: StreamConsumerOptions['failureQueue'];
  readonly initialPosition: ResolvedInitialPosition;
  /** A third of the lease duration. */
  readonly renewIntervalMs: number;
};

/** Kinesis allows 5 GetRecords per second per shard; 200 ms exactly would let a sixth call into some 1-second window. */
export const MIN_GET_RECORDS_GAP_MS = 210;

/** Applies the defaults and throws one InvalidStreamConsumerOptionsError listing every problem. */
export function resolveStreamConsumerOptions(options: StreamConsumerOptions): ResolvedStreamConsumerOptions {
  const problems = new Problems();
  const leaseDurationMs = options.leaseDurationMs ?? 10_000;
  const resolved: ResolvedStreamConsumerOptions = {
    kinesis: options.kinesis,
    dynamodb: options.dynamodb,
    streamName: options.streamName,
    leaseTableName: options.leaseTableName,
    processor: options.processor,
    ...(options.failureQueue ? { failureQueue: options.failureQueue } : {}),
    workerId: options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    initialPosition: resolveInitialPosition(options.initialPosition ?? 'TRIM_HORIZON', problems),
    leaseDurationMs,
    renewIntervalMs: Math.max(1, Math.floor(leaseDurationMs / 3)),
    leaseScanIntervalMs: options.leaseScanIntervalMs ?? 500,
    maxLeasesPerWorker: options.maxLeasesPerWorker ?? 10_000,
    shardSyncIntervalMs: options.shardSyncIntervalMs ?? 60_000,
    maxRecordsPerCall: options.maxRecordsPerCall ?? 10_000,
    idleWaitMs: options.idleWaitMs ?? 1_000,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 10_000,
    processorRetries: options.processorRetries ?? 3,
    processorRetryBackoff: options.processorRetryBackoff ?? { initialMs: 200, maxMs: 5_000 },
    awsRetryBackoff: options.awsRetryBackoff ?? { initialMs: 200, maxMs: 10_000 },
    stopDeadlineMs: options.stopDeadlineMs ?? 30_000,
    abortGraceMs: options.abortGraceMs ?? 1_000,
    clock: options.clock ?? monotonicClock,
    logger: options.logger ?? jsonLogger({ component: 'stream-consumer' }),
  };

  problems.check(typeof resolved.kinesis?.send === 'function', 'kinesis must be a KinesisClient');
  problems.check(typeof resolved.dynamodb?.send === 'function', 'dynamodb must be a DynamoDBClient');
  problems.matches('streamName', resolved.streamName ?? '', /^[a-zA-Z0-9_.-]{1,128}$/, 'a Kinesis stream name (1–128 of a-z A-Z 0-9 _ . -)');
  problems.matches('leaseTableName', resolved.leaseTableName ?? '', /^[a-zA-Z0-9_.-]{3,255}$/, 'a DynamoDB table name (3–255 of a-z A-Z 0-9 _ . -)');
  problems.check(typeof resolved.processor === 'function', 'processor must be a function (records, { shardId, signal }) => Promise<void>');
  if (resolved.failureQueue) {
    problems.check(typeof resolved.failureQueue.sqs?.send === 'function', 'failureQueue.sqs must be an SQSClient');
    problems.matches('failureQueue.queueUrl', resolved.failureQueue.queueUrl ?? '', /^https?:\/\//, 'a queue URL');
  }
  problems.check(typeof resolved.workerId === 'string' && resolved.workerId.length > 0, `workerId must be a non-empty string (given ${JSON.stringify(resolved.workerId)})`);
  problems.wholeNumber('leaseDurationMs', resolved.leaseDurationMs, 300, 24 * 60 * 60_000, 'milliseconds');
  problems.wholeNumber('leaseScanIntervalMs', resolved.leaseScanIntervalMs, 10, 10 * 60_000, 'milliseconds');
  problems.wholeNumber('maxLeasesPerWorker', resolved.maxLeasesPerWorker, 1, 10_000);
  problems.wholeNumber('shardSyncIntervalMs', resolved.shardSyncIntervalMs, 100, 24 * 60 * 60_000, 'milliseconds');
  problems.wholeNumber('maxRecordsPerCall', resolved.maxRecordsPerCall, 1, 10_000);
  problems.wholeNumber('idleWaitMs', resolved.idleWaitMs, 0, 60_000, 'milliseconds');
  problems.wholeNumber('checkpointIntervalMs', resolved.checkpointIntervalMs, 0, 24 * 60 * 60_000, 'milliseconds');
  problems.wholeNumber('processorRetries', resolved.processorRetries, 0, 100);
  checkBackoff('processorRetryBackoff', resolved.processorRetryBackoff, problems);
  checkBackoff('awsRetryBackoff', resolved.awsRetryBackoff, problems);
  problems.wholeNumber('stopDeadlineMs', resolved.stopDeadlineMs, 0, 12 * 60 * 60_000, 'milliseconds');
  problems.wholeNumber('abortGraceMs', resolved.abortGraceMs, 0, 60_000, 'milliseconds');
  problems.throwIfAny((list) => new InvalidStreamConsumerOptionsError(list));
  return resolved;
}

function resolveInitialPosition(position: InitialPosition, problems: Problems): ResolvedInitialPosition {
  if (position === TRIM_HORIZON || position === LATEST) return { checkpoint: position };
  if (typeof position === 'object' && position !== null && position.timestamp instanceof Date && !Number.isNaN(position.timestamp.getTime())) {
    return { checkpoint: AT_TIMESTAMP, timestamp: position.timestamp.getTime() };
  }
  problems.add(`initialPosition must be 'TRIM_HORIZON', 'LATEST' or { timestamp: Date } (given ${JSON.stringify(position)})`);
  return { checkpoint: TRIM_HORIZON };
}

function checkBackoff(name: string, backoff: Backoff, problems: Problems): void {
  problems.wholeNumber(`${name}.initialMs`, backoff.initialMs, 1, 10 * 60_000, 'milliseconds');
  problems.wholeNumber(`${name}.maxMs`, backoff.maxMs, backoff.initialMs, 60 * 60_000, 'milliseconds');
}
