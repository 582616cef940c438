// The app's own stream work: what the records of the event stream ask the app to do. Both consumers
// run this processor — the instance worker's StreamConsumer and the Lambda variant
// (lambda/stream-consumer.ts) — so it is the one place for the business logic.
//
// REPLACE THIS with the real work (keep it idempotent: a record is processed at least once). As
// shipped it reads each record as a UTF-8 JSON document and logs it; a record that is not JSON is a
// poison record: it is named in a RecordProcessingError, so the records before it count as done and
// it goes to the failure queue after the bounded retries.
import { jsonLogger } from '../json-logger.ts';
import { type RecordProcessor, RecordProcessingError } from '../stream/stream-record.ts';

const logger = jsonLogger({ component: 'event-handler' });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Processes one shard's batch in order; throws naming the first record it could not process. */
export const processEvents: RecordProcessor = async (records, { shardId, signal }) => {
  for (const record of records) {
    // Stopping between records keeps what is done: the consumer resumes at this one.
    if (signal.aborted) throw new RecordProcessingError(record.sequenceNumber, { cause: signal.reason });
    let event: unknown;
    try {
      event = JSON.parse(utf8.decode(record.data));
    } catch (error) {
      throw new RecordProcessingError(record.sequenceNumber, { cause: new Error(`the data is not a UTF-8 JSON document (${(error as Error).message})`) });
    }
    const type = typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string' ? (event as { type: string }).type : undefined;
    logger.log('info', 'event_received', { shardId, sequenceNumber: record.sequenceNumber, partitionKey: record.partitionKey, ...(type ? { type } : {}) });
  }
};
