// Shared by the stream consumer's tests: kinesalite and dynalite for a test file, consumers that are
// stopped after each test, and a processor that keeps its own record of what it saw, per shard.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { LeaseTable } from '../../../lib/runtime/stream/lease-table.ts';
import { StreamConsumer } from '../../../lib/runtime/stream/stream-consumer.ts';
import type { StreamConsumerOptions } from '../../../lib/runtime/stream/stream-consumer-options.ts';
import type { RecordProcessor, RecordProcessorContext, StreamRecord } from '../../../lib/runtime/stream/stream-record.ts';
import { type LocalDynamoDb, startDynalite } from '../../helpers/dynalite.ts';
import { type LocalKinesis, type OutgoingRecord, startKinesalite } from '../../helpers/kinesalite.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';
import { capturingLogger } from '../queue/processor-harness.ts';

export { capturingLogger, waitUntil } from '../queue/processor-harness.ts';

/** Short leases so that failover and handoff tests run in seconds. */
export const TEST_LEASE_MS = 1_500;

export interface LocalStream {
  readonly kinesis: LocalKinesis;
  readonly dynamo: LocalDynamoDb;
  /** Started on first use. */
  sqs(): Promise<LocalSqs>;
  /** A fresh stream and lease table. */
  fixture(shards?: number): Promise<{ readonly streamName: string; readonly leaseTableName: string; readonly table: LeaseTable }>;
  /**
   * A consumer on the local clients with test-speed settings (lease TEST_LEASE_MS, scans every 100 ms,
   * idle 50 ms, checkpoints at most every 300 ms) and a capturing logger; abandoned after the test
   * unless it was stopped.
   */
  consumer(options: Omit<StreamConsumerOptions, 'kinesis' | 'dynamodb'> & Pick<Partial<StreamConsumerOptions>, 'kinesis' | 'dynamodb'>): StreamConsumer;
}

export function useLocalStream(): LocalStream {
  let kinesis: LocalKinesis | undefined;
  let dynamo: LocalDynamoDb | undefined;
  let sqs: Promise<LocalSqs> | undefined;
  const consumers = new Set<StreamConsumer>();
  let fixtures = 0;
  beforeAll(async () => {
    [kinesis, dynamo] = await Promise.all([startKinesalite(), startDynalite()]);
  });
  afterEach(async () => {
    await Promise.all([...consumers].map((consumer) => consumer.abandon()));
    consumers.clear();
  });
  afterAll(async () => {
    await Promise.all([kinesis?.stop(), dynamo?.stop(), sqs?.then((started) => started.stop())]);
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the local stream is only available inside tests');
    return value;
  };
  return {
    get kinesis() {
      return need(kinesis);
    },
    get dynamo() {
      return need(dynamo);
    },
    sqs() {
      sqs ??= startLocalSqs();
      return sqs;
    },
    async fixture(shards = 1) {
      fixtures += 1;
      const [streamName, leaseTableName] = await Promise.all([need(kinesis).createStream({ name: `stream-${fixtures}`, shards }), need(dynamo).createLeaseTable(`stream-${fixtures}-leases`)]);
      return { streamName, leaseTableName, table: new LeaseTable(need(dynamo).client, leaseTableName) };
    },
    consumer(options) {
      const consumer = new StreamConsumer({
        kinesis: need(kinesis).client,
        dynamodb: need(dynamo).client,
        leaseDurationMs: TEST_LEASE_MS,
        leaseScanIntervalMs: 100,
        idleWaitMs: 50,
        checkpointIntervalMs: 300,
        processorRetryBackoff: { initialMs: 10, maxMs: 50 },
        awsRetryBackoff: { initialMs: 20, maxMs: 200 },
        logger: capturingLogger(),
        ...options,
      });
      consumers.add(consumer);
      return consumer;
    },
  };
}

export interface SeenRecord {
  readonly data: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly shardId: string;
  /** Which consumer saw it (the `name` given to recordingProcessor). */
  readonly by: string;
  readonly at: number;
}

/** Everything a set of recording processors saw, in the order they finished processing it. */
export class ProcessingLog {
  readonly seen: SeenRecord[] = [];

  /** A processor that records each record once `behaviour` resolves for its batch. */
  processor(name: string, behaviour: (records: readonly StreamRecord[], context: RecordProcessorContext) => Promise<void> = async () => undefined): RecordProcessor {
    return async (records, context) => {
      await behaviour(records, context);
      const at = Date.now();
      for (const record of records) {
        this.seen.push({ data: Buffer.from(record.data).toString(), partitionKey: record.partitionKey, sequenceNumber: record.sequenceNumber, shardId: context.shardId, by: name, at });
      }
    };
  }

  /** Distinct data values seen. */
  distinct(): Set<string> {
    return new Set(this.seen.map((record) => record.data));
  }

  /** How often each data value was seen. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const record of this.seen) counts.set(record.data, (counts.get(record.data) ?? 0) + 1);
    return counts;
  }

  /** Sequence numbers seen per shard, in processing order. */
  sequencesByShard(): Map<string, bigint[]> {
    const byShard = new Map<string, bigint[]>();
    for (const record of this.seen) byShard.set(record.shardId, [...(byShard.get(record.shardId) ?? []), BigInt(record.sequenceNumber)]);
    return byShard;
  }
}

/** `count` records `<prefix>-<i>` spread over `keys` partition keys (`key-<i mod keys>`). */
export function records(count: number, { prefix = 'r', keys = 16, from = 0 }: { prefix?: string; keys?: number; from?: number } = {}): OutgoingRecord[] {
  return Array.from({ length: count }, (_, offset) => ({ partitionKey: `key-${(from + offset) % keys}`, data: `${prefix}-${from + offset}` }));
}

/** True when `values` never decreases. */
export function ascending(values: readonly bigint[]): boolean {
  return values.every((value, index) => index === 0 || values[index - 1]! < value);
}

export interface Producer {
  /** Data values sent so far. */
  readonly sent: string[];
  /** Stops producing; resolves once the last PutRecords has been answered. */
  stop(): Promise<void>;
}

/** Puts `batch` records every `everyMs` until stopped (data `<prefix>-<n>`, keys `key-<n mod keys>`). */
export function produce(kinesis: LocalKinesis, streamName: string, { everyMs = 20, batch = 5, prefix = 'p', keys = 32 } = {}): Producer {
  const sent: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const next = records(batch, { prefix, keys, from: sent.length });
      await kinesis.put(streamName, next);
      sent.push(...next.map((record) => String(record.data)));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await loop;
    },
  };
}
