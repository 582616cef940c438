// PLACEHOLDER until H6's event handler is merged (it replaces this file): the app's stream work,
// which the instance worker's StreamConsumer runs. As here it only logs each record.
import { jsonLogger } from '../json-logger.ts';
import type { RecordProcessor } from '../stream/stream-record.ts';

const logger = jsonLogger({ component: 'event-handler' });

/** Processes one shard's batch in order. */
export const handleEvents: RecordProcessor = async (records, { shardId, signal }) => {
  signal.throwIfAborted();
  for (const record of records) logger.log('info', 'event_received', { shardId, sequenceNumber: record.sequenceNumber, partitionKey: record.partitionKey });
};
