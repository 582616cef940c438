// The default timings, on virtual time (real kinesalite and dynalite, every AWS call taking no virtual
// time): leases of 10 s renewed every third of that, at most one checkpoint per shard per 10 s under
// steady traffic, and a killed worker's shard taken over within 1.5 lease durations.
import { describe, expect, it } from 'vitest';
import { StreamConsumer } from '../../../lib/runtime/stream/stream-consumer.ts';
import { VirtualClock } from '../../helpers/virtual-clock.ts';
import { capturingLogger, records, useLocalStream } from './stream-harness.ts';

const local = useLocalStream();

/** The client with every `send` run as I/O of the virtual clock, and each command's name and virtual time recorded. */
function throughClock<Client extends object>(client: Client, clock: VirtualClock, calls: { name: string; at: number }[] = []): Client {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'send' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ name: (args[0] as object).constructor.name, at: clock.now() });
        return clock.io(() => (value as (...callArgs: unknown[]) => Promise<unknown>).apply(target, args));
      };
    },
  });
}

describe('StreamConsumer default timings', () => {
  it('checkpoints at most once per 10 s per shard, renews every 3.3 s, and fails over within 15 s', async () => {
    const { streamName, leaseTableName } = await local.fixture(1);
    const clock = new VirtualClock();
    const kinesis = throughClock(local.kinesis.client, clock);
    const tableCalls: { name: string; at: number }[] = [];
    const dynamodb = throughClock(local.dynamo.client, clock, tableCalls);
    let processed = 0;
    const consumer = (name: string) =>
      new StreamConsumer({ kinesis, dynamodb, streamName, leaseTableName, clock, workerId: name, logger: capturingLogger(), processor: async (batch) => void (processed += batch.length) });
    const checkpointsAt: number[] = [];

    await clock.run(
      (async () => {
        const first = consumer('first');
        first.on('checkpoint', () => checkpointsAt.push(clock.now()));
        first.start();
        const startedAt = clock.now();
        // Steady traffic for 60 s: a record every 500 ms.
        for (let index = 0; index < 120; index++) {
          await clock.io(() => local.kinesis.put(streamName, records(1, { from: index })));
          await clock.sleep(500);
        }
        expect(processed).toBeGreaterThanOrEqual(119);
        for (let windowStart = startedAt; windowStart + 10_000 <= clock.now(); windowStart += 1_000) {
          expect(checkpointsAt.filter((at) => at >= windowStart && at < windowStart + 10_000).length).toBeLessThanOrEqual(1);
        }
        expect(checkpointsAt.length).toBeGreaterThanOrEqual(4);
        // One write per renewal (a due checkpoint rides on it): 60 s / 3.33 s.
        const writes = tableCalls.filter((call) => call.name === 'UpdateItemCommand' && call.at > startedAt + 1_000);
        expect(writes.length).toBeGreaterThanOrEqual(16);
        expect(writes.length).toBeLessThanOrEqual(19);

        const second = consumer('second').start();
        await clock.sleep(2_000);
        const killedAt = clock.now();
        await first.abandon();
        while (second.heldShards.length === 0) await clock.sleep(100);
        const failoverMs = clock.now() - killedAt;
        expect(failoverMs).toBeLessThanOrEqual(15_000);
        // Not before the lease could have expired: at most a renewal interval before the kill was it last renewed.
        expect(failoverMs).toBeGreaterThanOrEqual(10_000 - 3_334);
        await second.stop();
      })(),
      { realLimitMs: 30_000 },
    );
  });
});
