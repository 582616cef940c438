import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Claim, IdempotencyGuard, MessageInProgressError, withIdempotency } from '../../../lib/runtime/queue/idempotency-guard.ts';
import { QueueProcessor } from '../../../lib/runtime/queue/queue-processor.ts';
import { type LocalDynamoDb, startDynalite } from '../../helpers/dynalite.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';
import { VirtualClock } from '../../helpers/virtual-clock.ts';
import { capturingLogger, recordingHandler, waitUntil } from './processor-harness.ts';

let dynamo: LocalDynamoDb;
let sqs: LocalSqs;
let tableName: string;

beforeAll(async () => {
  [dynamo, sqs] = await Promise.all([startDynalite(), startLocalSqs()]);
  tableName = await dynamo.createReleaseTable();
});

afterAll(async () => {
  await Promise.all([dynamo.stop(), sqs.stop()]);
});

function guardAt(clock: VirtualClock, options: { leaseMs?: number; retentionSeconds?: number } = {}): IdempotencyGuard {
  return new IdempotencyGuard({ documentClient: dynamo.documentClient, tableName, namespace: `test-${Math.random()}`, clock, ...options });
}

/** The token of a claim that must have succeeded; fails the test otherwise. */
function tokenOf(claim: Claim): string {
  expect(claim).toEqual({ status: 'claimed', token: expect.any(String) });
  return (claim as Extract<Claim, { status: 'claimed' }>).token;
}

describe('IdempotencyGuard', () => {
  it('claims a message once, refuses a second claim while it runs, and reports it done afterwards', async () => {
    const clock = new VirtualClock(Date.now());
    const guard = guardAt(clock);

    const claim = await guard.claim('m-1');
    expect(claim.status).toBe('claimed');
    await expect(guard.claim('m-1')).rejects.toBeInstanceOf(MessageInProgressError);
    await guard.complete('m-1');
    expect(await guard.claim('m-1')).toEqual({ status: 'already-done' });
  });

  it('lets another worker take over a claim whose lease lapsed, and a retry claim again after release', async () => {
    const clock = new VirtualClock(Date.now());
    const guard = guardAt(clock, { leaseMs: 1_000 });

    const first = tokenOf(await guard.claim('m-2'));
    clock.timers.tick(1_001);
    const takeover = tokenOf(await guard.claim('m-2'));
    expect(takeover).not.toBe(first);
    // The first worker's release no longer touches the new claim.
    await guard.release('m-2', first);
    await expect(guard.claim('m-2')).rejects.toThrow(/is being handled by another worker/);
    await guard.release('m-2', takeover);
    expect((await guard.claim('m-2')).status).toBe('claimed');
  });

  it('forgets a done message once its retention has passed, even before TTL deletes the item', async () => {
    const clock = new VirtualClock(Date.now());
    const guard = guardAt(clock, { retentionSeconds: 60 });
    tokenOf(await guard.claim('m-3'));
    await guard.complete('m-3');
    clock.timers.tick(61_000);
    expect((await guard.claim('m-3')).status).toBe('claimed');
  });

  it('keeps a side effect from repeating when SQS delivers a message again', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 5 });
    await sqs.send(queueUrl, ['charge-card']);
    // The delete fails, so the message comes back once its visibility lapses.
    sqs.injectFault('DeleteMessageBatch', 'server-error', 1);
    const guard = new IdempotencyGuard({ documentClient: dynamo.documentClient, tableName, namespace: queueUrl });
    const { handler, record } = recordingHandler();
    const deliveries: number[] = [];

    const processor = new QueueProcessor({
      sqs: sqs.client,
      queueUrl,
      handler: withIdempotency(guard, handler),
      visibilityTimeoutSeconds: 1,
      waitTimeSeconds: 1,
      batchAttempts: 1,
      logger: capturingLogger(),
    }).start();
    processor.on('received', ({ receiveCount }) => deliveries.push(receiveCount));
    await waitUntil(() => processor.counters.processed === 1, 'the second delivery is skipped and deleted', 5_000);
    await processor.stop();

    expect(deliveries).toEqual([1, 2]);
    expect(record.starts.get('charge-card')).toBe(1);
    expect(processor.counters.deleteFailures).toBe(1);
  });
});
