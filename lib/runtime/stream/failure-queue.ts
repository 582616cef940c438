// Records that keep failing go to an SQS queue with what is needed to look into them or feed them
// back: stream, shard, sequence number, partition key, arrival time, the data (base64) and the error.
// A message is at most 1 MiB; a record too large for that (Kinesis allows 1 MiB of data, which is
// 1.33 MiB in base64) is sent without its data, which stays readable by sequence number for the
// stream's retention. A send is retried until SQS takes it: a record must never be skipped unrecorded.
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../clock.ts';
import { asError } from './errors.ts';
import { retryDelayMs } from './retry-delay.ts';
import type { Backoff } from './stream-consumer-options.ts';
import type { StreamRecord } from './stream-record.ts';

/** SQS's largest message and largest batch, in bytes. */
export const MAX_SQS_MESSAGE_BYTES = 1_048_576;
const MAX_BATCH_ENTRIES = 10;
/** An error message is context, not payload. */
const MAX_ERROR_MESSAGE_CHARS = 4_096;

/** The body of a failure-queue message (JSON). */
export interface FailedRecordMessage {
  readonly streamName: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber?: number;
  readonly partitionKey: string;
  readonly approximateArrivalTimestamp: string;
  /** The record's data, base64; absent when it would not fit into one message (see `dataBytes`). */
  readonly data?: string;
  readonly dataBytes: number;
  readonly error: { readonly name: string; readonly message: string };
  readonly attempts: number;
  readonly failedAt: string;
}

export interface FailureQueueOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly streamName: string;
  readonly clock: Clock;
  readonly retryBackoff: Backoff;
  /** A send that SQS refused; it is retried after back-off. */
  readonly onSendError: (error: Error) => void;
}

export class FailureQueue {
  constructor(private readonly options: FailureQueueOptions) {}

  /** Sends one message per record; resolves once SQS has them all, rejects only when `signal` aborts. */
  async send(shardId: string, records: readonly StreamRecord[], error: Error, attempts: number, signal: AbortSignal): Promise<void> {
    let pending = records.map((record, index) => ({ id: String(index), body: this.messageBody(shardId, record, error, attempts) }));
    let failures = 0;
    while (pending.length > 0) {
      signal.throwIfAborted();
      const batch = takeBatch(pending);
      try {
        const { Failed = [] } = await this.options.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: batch.map(({ id, body }) => ({ Id: id, MessageBody: body })) }),
          { abortSignal: signal },
        );
        const failedIds = new Set(Failed.map((entry) => entry.Id));
        pending = [...batch.filter(({ id }) => failedIds.has(id)), ...pending.slice(batch.length)];
        if (Failed.length === 0) {
          failures = 0;
          continue;
        }
        this.options.onSendError(new Error(`SQS SendMessageBatch refused ${Failed.map((entry) => `${entry.Id}: ${entry.Code} ${entry.Message ?? ''}`).join('; ')}`));
      } catch (thrown) {
        signal.throwIfAborted();
        this.options.onSendError(asError(thrown));
      }
      failures += 1;
      await this.options.clock.sleep(retryDelayMs(failures, this.options.retryBackoff, true), signal);
    }
  }

  private messageBody(shardId: string, record: StreamRecord, error: Error, attempts: number): string {
    const message: FailedRecordMessage = {
      streamName: this.options.streamName,
      shardId,
      sequenceNumber: record.sequenceNumber,
      ...(record.subSequenceNumber !== undefined ? { subSequenceNumber: record.subSequenceNumber } : {}),
      partitionKey: record.partitionKey,
      approximateArrivalTimestamp: record.approximateArrivalTimestamp.toISOString(),
      data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString('base64'),
      dataBytes: record.data.byteLength,
      error: { name: error.name, message: error.message.slice(0, MAX_ERROR_MESSAGE_CHARS) },
      attempts,
      failedAt: new Date().toISOString(),
    };
    const body = JSON.stringify(message);
    if (Buffer.byteLength(body) <= MAX_SQS_MESSAGE_BYTES) return body;
    const { data: _omitted, ...withoutData } = message;
    return JSON.stringify(withoutData);
  }
}

/** The longest prefix of `pending` that fits into one SendMessageBatch (10 entries, 1 MiB in all). */
function takeBatch<T extends { readonly body: string }>(pending: readonly T[]): T[] {
  const batch: T[] = [];
  let bytes = 0;
  for (const entry of pending) {
    const size = Buffer.byteLength(entry.body);
    if (batch.length === MAX_BATCH_ENTRIES || (batch.length > 0 && bytes + size > MAX_SQS_MESSAGE_BYTES)) break;
    batch.push(entry);
    bytes += size;
  }
  return batch;
}
