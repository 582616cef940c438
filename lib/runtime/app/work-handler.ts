// The app's own queue work: what one message on the work queue asks the app to do. Both consumers
// run this module — the instance worker and the Lambda consumer (lambda/queue-consumer.ts) — so it
// is the one place for the business logic.
//
// REPLACE THIS with the real work (typically a call to an external API, passing `signal` along).
// As shipped it does nothing but check the message and log it: a message is a JSON object with a
// non-empty string `type`; anything else is unparseable and ends in the dead-letter queue. Work that
// must not happen twice (SQS delivers at least once) goes through `withIdempotency` from
// queue/idempotency-guard.ts, over a DynamoDB table you add (see there); logging needs no guard.
import { jsonLogger } from '../json-logger.ts';
import type { BodyParser, QueueHandler } from '../queue/queue-message.ts';

/** One unit of work as the producer sent it. */
export interface WorkItem {
  /** What to do, e.g. `"send-invoice"`. */
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Parses and checks a body; throwing marks the message unparseable (the handler never sees it). */
export const parseWorkItem: BodyParser<WorkItem> = (rawBody) => {
  const value: unknown = JSON.parse(rawBody);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the body must be a JSON object');
  const { type } = value as { type?: unknown };
  if (typeof type !== 'string' || type === '') throw new Error('the body must have a non-empty string "type"');
  return value as WorkItem;
};

const logger = jsonLogger({ component: 'work-handler' });

/** Resolve = done (the message is deleted); throw = failed (retried, then the dead-letter queue). */
export const handleWork: QueueHandler<WorkItem> = async (message, { signal, receiveCount }) => {
  signal.throwIfAborted();
  logger.log('info', 'work_received', { messageId: message.messageId, type: message.body.type, receiveCount });
};
