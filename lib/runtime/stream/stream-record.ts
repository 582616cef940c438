// The contract between a stream and the code that processes it, shared by the instance consumer
// (StreamConsumer) and the Lambda variant: the same processor runs in both, and a processor names
// the first record it could not process by throwing RecordProcessingError, so both resume exactly
// there (the consumer retries from it, Lambda reports it as the batch item failure).
import { StreamConsumerError } from './errors.ts';

/** One Kinesis record, as a processor sees it. */
export interface StreamRecord {
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /**
   * The position inside a KPL-aggregated record. The consumer does not de-aggregate, so records
   * read from Kinesis have none.
   * @default - none
   */
  readonly subSequenceNumber?: number;
  readonly data: Uint8Array;
  readonly approximateArrivalTimestamp: Date;
  /** @default - unknown (the Lambda variant reads it from the event source ARN's record id) */
  readonly shardId?: string;
}

export interface RecordProcessorContext {
  readonly shardId: string;
  /**
   * Aborted when the worker must let go of the batch: its lease was lost, or a graceful stop reached
   * its deadline. Work done after that is not checkpointed and will be done again by the next owner.
   */
  readonly signal: AbortSignal;
}

/**
 * Processes one batch of one shard, in sequence order. Resolve = every record is done. Throw
 * RecordProcessingError to say that the records before `sequenceNumber` are done and that one failed;
 * throw anything else to say the whole batch failed. Records of one shard never run concurrently.
 */
export type RecordProcessor = (records: readonly StreamRecord[], context: RecordProcessorContext) => Promise<void>;

/** Thrown by a processor: every record before `sequenceNumber` is done, that record failed. */
export class RecordProcessingError extends StreamConsumerError {
  constructor(readonly sequenceNumber: string, options?: ErrorOptions & { readonly message?: string }) {
    super(options?.message ?? `record ${sequenceNumber} could not be processed${options?.cause instanceof Error ? `: ${options.cause.message}` : ''}`, 'RecordProcessingFailed', options);
    this.name = 'RecordProcessingError';
  }
}

/**
 * Where processing of `records` failed, given what the processor threw: the index of the record a
 * RecordProcessingError names, or 0 (the whole batch) for any other error or a name not in the batch.
 */
export function indexOfFirstFailure(records: readonly StreamRecord[], error: unknown): { readonly index: number; readonly named: boolean } {
  if (error instanceof RecordProcessingError) {
    const index = records.findIndex((record) => record.sequenceNumber === error.sequenceNumber);
    if (index >= 0) return { index, named: true };
  }
  return { index: 0, named: false };
}
