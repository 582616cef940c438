// The Lambda variant of the stream consumer. It runs the same RecordProcessor as StreamConsumer over
// the records of one Kinesis event and answers with a partial batch response (ReportBatchItemFailures)
// that names the first record not done. Lambda checkpoints just before that record and retries from
// it — what the instance consumer does, which checkpoints only what was processed and retries from the
// first failure. With bisectBatchOnError and bounded retryAttempts on the event source, a record that
// keeps failing ends in the on-failure destination (the failure queue) and the shard moves on.
//
// - Records are grouped by shard (an event source mapping sends one shard per invocation; grouping
//   keeps the contract if that ever differs) and handed to the processor in the order Lambda gives.
// - A RecordProcessingError names the failed record, which is reported; anything else thrown fails
//   the whole batch, reported as its first record.
// - When nothing of the invocation was done (every batch failed at its first record) the handler
//   throws instead: a function error is what makes Lambda split the batch (bisectBatchOnError) until
//   the poison record is alone, so that only it reaches the failure queue, as with the instance
//   consumer. A response naming the first record would be retried whole, and after retryAttempts the
//   good records behind the poison would be discarded with it. Nothing is lost by throwing: nothing
//   was done.
// - Shortly before the invocation would time out the processor's signal aborts, and the answer goes
//   out half the margin later whether the processor has settled or not. A processor that then names
//   the record it stopped at keeps what it did; otherwise the batch counts as not done. A timed-out
//   invocation would be retried whole, even what it had done.
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { jsonLogger, type Logger } from '../json-logger.ts';
import { formatProblems, Problems } from '../problems.ts';
import { asError, StreamConsumerError } from './errors.ts';
import { indexOfFirstFailure, type RecordProcessor, type StreamRecord } from './stream-record.ts';

export interface KinesisBatchProcessorOptions {
  /** The same processor the instance consumer runs (see RecordProcessor). */
  readonly processor: RecordProcessor;
  /**
   * How long before the invocation's timeout the processor's signal is aborted; the answer goes out
   * half of this later, whether or not it has settled. Never more than a quarter of the time the
   * invocation has left when it starts.
   * @default 1 second
   */
  readonly abortBeforeTimeoutMs?: number;
  /** @default - JSON lines on standard output, component `stream-lambda-consumer`, level info */
  readonly logger?: Logger;
}

/** What the processor reads from Lambda's context object. */
export type KinesisInvocationContext = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>;

export type KinesisBatchProcessor = (event: KinesisStreamEvent, context: KinesisInvocationContext) => Promise<KinesisStreamBatchResponse>;

/** The invocation was about to time out while a batch was still being processed. */
export class InvocationDeadlineError extends StreamConsumerError {
  constructor(readonly shardId: string, readonly remainingMs: number) {
    super(
      `the Lambda invocation had ${remainingMs} ms left while a batch of ${shardId} was still being processed; Lambda retries it from the first record not done (raise the function's timeout or lower its batch size if batches need longer)`,
      'InvocationDeadline',
    );
    this.name = 'InvocationDeadlineError';
  }
}

/** Nothing of the invocation was done; thrown so that Lambda retries it, split in two (bisectBatchOnError). */
export class BatchNotProcessedError extends StreamConsumerError {
  constructor(readonly firstRecords: readonly { readonly shardId: string; readonly sequenceNumber: string }[], options?: ErrorOptions) {
    const where = firstRecords.map(({ shardId, sequenceNumber }) => `${shardId} from ${sequenceNumber}`).join(', ');
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`no record of the batch (${where}) could be processed${cause}; Lambda retries it, split in two when bisectBatchOnError is on, and after retryAttempts sends it to the on-failure destination`, 'BatchNotProcessed', options);
    this.name = 'BatchNotProcessedError';
  }
}

/** Checks the options once (at cold start) and returns the function that processes each event. */
export function createKinesisBatchProcessor(options: KinesisBatchProcessorOptions): KinesisBatchProcessor {
  const settings: BatchSettings = {
    processor: options.processor,
    abortBeforeTimeoutMs: options.abortBeforeTimeoutMs ?? 1_000,
    logger: options.logger ?? jsonLogger({ component: 'stream-lambda-consumer' }),
  };
  const problems = new Problems();
  problems.check(typeof settings.processor === 'function', 'processor must be a function (records, { shardId, signal }) => Promise<void>');
  problems.wholeNumber('abortBeforeTimeoutMs', settings.abortBeforeTimeoutMs, 0, 60_000, 'milliseconds');
  problems.throwIfAny((list) => new StreamConsumerError(`Invalid Kinesis batch processor options:\n${formatProblems(list)}`, 'InvalidOptions'));
  return (event, context) => processEvent(event.Records ?? [], context, settings);
}

interface BatchSettings {
  readonly processor: RecordProcessor;
  readonly abortBeforeTimeoutMs: number;
  readonly logger: Logger;
}

interface ShardBatch {
  readonly shardId: string;
  readonly records: StreamRecord[];
}

/** Where a shard's batch stopped: the index of the first record not done and why, or undefined when all are. */
interface ShardOutcome {
  readonly batch: ShardBatch;
  readonly failedIndex?: number;
  readonly error?: Error;
}

async function processEvent(kinesisRecords: readonly KinesisStreamRecord[], context: KinesisInvocationContext, settings: BatchSettings): Promise<KinesisStreamBatchResponse> {
  const startedAt = Date.now();
  const batches = groupByShard(kinesisRecords);
  const requestId = context.awsRequestId ? { requestId: context.awsRequestId } : {};
  const remainingMs = context.getRemainingTimeInMillis();
  const marginMs = Math.min(settings.abortBeforeTimeoutMs, Math.floor(remainingMs / 4));
  const abortInMs = remainingMs - marginMs;
  if (abortInMs <= 0) {
    for (const batch of batches) settings.logger.log('warn', 'batch_not_started', { ...requestId, shardId: batch.shardId, records: batch.records.length, remainingMs });
    return response(batches.map((batch) => ({ batch, failedIndex: 0, error: new InvocationDeadlineError(batch.shardId, remainingMs) })));
  }

  const controllers = batches.map(() => new AbortController());
  const abortTimer = setTimeout(() => {
    batches.forEach((batch, index) => controllers[index]!.abort(new InvocationDeadlineError(batch.shardId, context.getRemainingTimeInMillis())));
  }, abortInMs);
  let answerTimer: NodeJS.Timeout | undefined;
  const answerDue = new Promise<'due'>((resolve) => (answerTimer = setTimeout(() => resolve('due'), abortInMs + Math.floor(marginMs / 2))));
  try {
    const outcomes = await Promise.all(batches.map(async (batch, index): Promise<ShardOutcome> => {
      const run = runShard(batch, controllers[index]!.signal, settings);
      const settled = await Promise.race([run, answerDue]);
      if (settled !== 'due') return settled;
      // The processor ignored its signal. It may still finish later, so these records may run twice.
      settings.logger.log('warn', 'processor_abandoned', { ...requestId, shardId: batch.shardId, records: batch.records.length });
      void run.then((late) => settings.logger.log('warn', 'processor_settled_late', { shardId: batch.shardId, succeeded: late.failedIndex === undefined }));
      return { batch, failedIndex: 0, error: new InvocationDeadlineError(batch.shardId, context.getRemainingTimeInMillis()) };
    }));
    for (const { batch, failedIndex } of outcomes) {
      settings.logger.log('info', 'batch_processed', {
        ...requestId,
        shardId: batch.shardId,
        records: batch.records.length,
        succeeded: failedIndex ?? batch.records.length,
        ...(failedIndex === undefined ? {} : { retryFrom: batch.records[failedIndex]!.sequenceNumber }),
        durationMs: Date.now() - startedAt,
      });
    }
    return response(outcomes);
  } finally {
    clearTimeout(abortTimer);
    clearTimeout(answerTimer);
  }
}

async function runShard(batch: ShardBatch, signal: AbortSignal, settings: BatchSettings): Promise<ShardOutcome> {
  try {
    await settings.processor(batch.records, { shardId: batch.shardId, signal });
    return { batch };
  } catch (thrown) {
    const { index, named } = indexOfFirstFailure(batch.records, thrown);
    // A processor that gives up at the deadline usually throws the abort itself; the reason says more.
    const error = signal.aborted && !named ? asError(signal.reason) : asError(thrown);
    settings.logger.log('warn', 'batch_failed', { shardId: batch.shardId, sequenceNumber: batch.records[index]!.sequenceNumber, processed: index, error });
    return { batch, failedIndex: index, error };
  }
}

/**
 * One failure per shard, its first record not done (Lambda checkpoints just before the lowest one it
 * is given); throws when nothing at all was done.
 */
function response(outcomes: readonly ShardOutcome[]): KinesisStreamBatchResponse {
  if (outcomes.length > 0 && outcomes.every((outcome) => outcome.failedIndex === 0)) {
    const firstRecords = outcomes.map(({ batch }) => ({ shardId: batch.shardId, sequenceNumber: batch.records[0]!.sequenceNumber }));
    throw new BatchNotProcessedError(firstRecords, { cause: outcomes[0]!.error });
  }
  return {
    batchItemFailures: outcomes
      .filter((outcome) => outcome.failedIndex !== undefined)
      .map(({ batch, failedIndex }) => ({ itemIdentifier: batch.records[failedIndex!]!.sequenceNumber })),
  };
}

function groupByShard(kinesisRecords: readonly KinesisStreamRecord[]): ShardBatch[] {
  const byShard = new Map<string, StreamRecord[]>();
  for (const kinesisRecord of kinesisRecords) {
    const record = toStreamRecord(kinesisRecord);
    const records = byShard.get(record.shardId) ?? [];
    if (records.length === 0) byShard.set(record.shardId, records);
    records.push(record);
  }
  return [...byShard].map(([shardId, records]) => ({ shardId, records }));
}

/** A Kinesis event record as a processor sees it; the shard comes from `eventID` (`shardId-…:<sequence number>`). */
export function toStreamRecord(record: KinesisStreamRecord): StreamRecord & { readonly shardId: string } {
  const separator = record.eventID.indexOf(':');
  return {
    shardId: separator > 0 ? record.eventID.slice(0, separator) : 'unknown',
    partitionKey: record.kinesis.partitionKey,
    sequenceNumber: record.kinesis.sequenceNumber,
    data: Buffer.from(record.kinesis.data, 'base64'),
    // Seconds since the epoch, with a fraction.
    approximateArrivalTimestamp: new Date(Math.round(record.kinesis.approximateArrivalTimestamp * 1000)),
  };
}
