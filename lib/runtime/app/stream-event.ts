// The event schema: what `POST /events` puts on the stream. The event's `key` is the record's
// partition key, so events with one key land on one shard and reach the processor in the order they
// were put (lib/runtime/app/event-handler.ts reads the whole body back as the record's data).
import { describeJson } from './work-item.ts';

/** One event as the producer sent it: a JSON object with a `key` of 1 to 256 characters. */
export interface StreamEvent {
  /** The partition key, e.g. a user or order id: the unit whose events stay in order. */
  readonly key: string;
  readonly [field: string]: unknown;
}

/** Kinesis allows partition keys of 1 to 256 Unicode characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;

/** Every way `value` (a parsed JSON document) falls short of a StreamEvent; empty when it is one. */
export function streamEventProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`the body must be a JSON object (given ${describeJson(value)})`];
  }
  const { key } = value as { key?: unknown };
  // UTF-16 length is never less than the character count Kinesis checks, so this errs on the safe side.
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_PARTITION_KEY_LENGTH) {
    const given = typeof key === 'string' && key.length > 0 ? `${key.length} characters` : describeJson(key);
    return [`key must be a string of 1 to ${MAX_PARTITION_KEY_LENGTH} characters, the partition key that keeps one key's events in order (given ${given})`];
  }
  return [];
}
