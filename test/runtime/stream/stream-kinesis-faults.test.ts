// Kinesis behaviour kinesalite does not have, injected in front of it: throttling
// (ProvisionedThroughputExceeded), expired iterators, MillisBehindLatest and the ChildShards that AWS
// returns at a shard's end. Also the call rate: at most 5 GetRecords per second per shard, no pause
// while behind, an idle pause once caught up.
import { type GetRecordsCommandOutput, type KinesisClient } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { ascending, ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

interface Call {
  readonly name: string;
  readonly at: number;
  readonly input: Record<string, unknown>;
}

/**
 * The client with faults in front of it: `fault(call, n)` may throw instead of sending (n counts calls
 * of that command), `answer` may change a GetRecords answer; every call is recorded.
 */
function faulty(
  client: KinesisClient,
  options: { fault?: (name: string, n: number) => Error | undefined; answer?: (output: GetRecordsCommandOutput) => GetRecordsCommandOutput } = {},
): { readonly client: KinesisClient; readonly calls: Call[] } {
  const calls: Call[] = [];
  const counts = new Map<string, number>();
  const wrapped = new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: { constructor: { name: string }; input: Record<string, unknown> }, sendOptions?: unknown) => {
        const name = command.constructor.name.replace(/Command$/, '');
        const n = (counts.get(name) ?? 0) + 1;
        counts.set(name, n);
        calls.push({ name, at: Date.now(), input: command.input });
        const error = options.fault?.(name, n);
        if (error) throw error;
        const output = await (target.send as (command: unknown, options?: unknown) => Promise<unknown>)(command, sendOptions);
        return name === 'GetRecords' && options.answer ? options.answer(output as GetRecordsCommandOutput) : output;
      };
    },
  });
  return { client: wrapped, calls };
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

describe('StreamConsumer against Kinesis faults', () => {
  it('backs off when throttled and replaces an expired iterator from the last processed record, losing and repeating nothing', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    const put = await local.kinesis.put(streamName, records(300));
    const { client, calls } = faulty(local.kinesis.client, {
      fault: (name, n) => {
        if (name !== 'GetRecords') return undefined;
        if (n >= 2 && n <= 4) return awsError('ProvisionedThroughputExceededException', 'Rate exceeded for shard shardId-000000000000');
        if (n === 7) return awsError('ExpiredIteratorException', 'Iterator expired.');
        return undefined;
      },
      answer: (output) => ({ ...output, MillisBehindLatest: output.Records?.length ? 777 : 0 }),
    });
    const log = new ProcessingLog();
    const behind: number[] = [];
    const consumer = local.consumer({ streamName, leaseTableName, kinesis: client, maxRecordsPerCall: 50, awsRetryBackoff: { initialMs: 100, maxMs: 400 }, processor: log.processor('a') }).start();
    consumer.on('batchProcessed', ({ millisBehindLatest }) => behind.push(millisBehindLatest));
    await waitUntil(() => log.seen.length >= 300, 'every record is processed');
    await consumer.stop();

    expect(log.seen.map((record) => record.sequenceNumber)).toEqual(put.map((result) => result.sequenceNumber));
    expect(behind).toContain(777);
    const getRecords = calls.filter((call) => call.name === 'GetRecords');
    // After each throttled call a pause of back-off with jitter (100, 200, 400 ms halved at worst), never under the call gap.
    const pauses = [1, 2, 3].map((index) => getRecords[index + 1]!.at - getRecords[index]!.at);
    expect(pauses.every((pause) => pause >= 205)).toBe(true);
    const iterators = calls.filter((call) => call.name === 'GetShardIterator');
    expect(iterators).toHaveLength(2);
    const processedBefore = log.seen.filter((record) => record.at <= iterators[1]!.at);
    expect(processedBefore.length).toBeGreaterThan(0);
    expect(iterators[1]!.input).toMatchObject({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: processedBefore.at(-1)!.sequenceNumber });
  });

  it('calls GetRecords at most 5 times a second per shard, without pausing while behind, and idles once caught up', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    await local.kinesis.put(streamName, records(60));
    const { client, calls } = faulty(local.kinesis.client);
    const log = new ProcessingLog();
    const consumer = local.consumer({ streamName, leaseTableName, kinesis: client, maxRecordsPerCall: 10, idleWaitMs: 1_500, processor: log.processor('a') }).start();
    await waitUntil(() => log.seen.length >= 60, 'the backlog is processed', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await consumer.stop();

    const times = calls.filter((call) => call.name === 'GetRecords').map((call) => call.at);
    for (const start of times) expect(times.filter((at) => at >= start && at < start + 1_000).length).toBeLessThanOrEqual(5);
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    // Six full batches and the call after the last: back to back at the rate limit; after the empty answer, idle pauses.
    // "Back to back" is anything short of the 1.5 s idle wait: a busy machine (two test files at once)
    // can stretch one call past a second, and that is still no pause.
    expect(gaps.slice(0, 6).every((gap) => gap >= 205 && gap < 1_400), `gaps: ${gaps.join(', ')}`).toBe(true);
    expect(gaps.slice(6).length).toBeGreaterThanOrEqual(1);
    expect(gaps.slice(6).every((gap) => gap >= 1_495)).toBe(true);
    expect(ascending(log.seen.map((record) => BigInt(record.sequenceNumber)))).toBe(true);
  });

  it('takes the children from ChildShards in the GetRecords answer when present, without a ListShards call', async () => {
    const { streamName, leaseTableName, table } = await local.fixture(1);
    const { client, calls } = faulty(local.kinesis.client, {
      // As AWS answers at a shard's end (kinesalite has no ChildShards).
      answer: (output) =>
        output.NextShardIterator
          ? output
          : {
              ...output,
              ChildShards: [
                { ShardId: 'shardId-000000000001', ParentShards: ['shardId-000000000000'], HashKeyRange: { StartingHashKey: '0', EndingHashKey: '170141183460469231731687303715884105728' } },
                { ShardId: 'shardId-000000000002', ParentShards: ['shardId-000000000000'], HashKeyRange: { StartingHashKey: '170141183460469231731687303715884105729', EndingHashKey: '340282366920938463463374607431768211455' } },
              ],
            },
    });
    const log = new ProcessingLog();
    const consumer = local.consumer({ streamName, leaseTableName, kinesis: client, processor: log.processor('a') }).start();
    await local.kinesis.put(streamName, records(20));
    await waitUntil(() => log.seen.length === 20, 'the parent records are processed');
    await local.kinesis.splitShard(streamName, 'shardId-000000000000');
    await local.kinesis.put(streamName, records(40, { from: 20 }));
    await waitUntil(() => log.seen.length === 60, 'the children are processed');
    await consumer.stop();

    expect(calls.filter((call) => call.name === 'ListShards')).toHaveLength(1);
    const child = (await table.get('shardId-000000000001'))!;
    expect(child.parentShardIds).toEqual(['shardId-000000000000']);
    expect(child.endingHashKey).toBe('170141183460469231731687303715884105728');
    expect((await table.get('shardId-000000000000'))!.childShardIds).toEqual(['shardId-000000000001', 'shardId-000000000002']);
  });
});
