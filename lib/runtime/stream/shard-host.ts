// What a held lease and its shard reader need from the consumer that runs them.
import type { LogLevel } from '../json-logger.ts';
import type { FailureQueue } from './failure-queue.ts';
import type { LeaseTable } from './lease-table.ts';
import type { StreamConsumerCounters, StreamConsumerEvents } from './stream-consumer-events.ts';
import type { ResolvedStreamConsumerOptions } from './stream-consumer-options.ts';

export type MutableCounters = { -readonly [Key in keyof Omit<StreamConsumerCounters, 'leasesHeld' | 'millisBehindLatest'>]: number };

export interface ShardHost {
  readonly options: ResolvedStreamConsumerOptions;
  readonly table: LeaseTable;
  readonly failureQueue?: FailureQueue;
  readonly counts: MutableCounters;
  /** Logs the event and emits it; a listener that throws never breaks the consumer. */
  report<Name extends keyof StreamConsumerEvents & string>(name: Name, payload: StreamConsumerEvents[Name], level?: LogLevel): void;
  reportError(error: Error, shardId?: string, level?: LogLevel): void;
  /** The lease is gone: forget it (its reader winds down by itself). */
  forget(shardId: string): void;
  /** Records a shard's MillisBehindLatest. */
  behind(shardId: string, millisBehindLatest: number): void;
}
