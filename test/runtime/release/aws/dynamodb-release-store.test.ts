import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbReleaseStore, ReleaseTableError } from '../../../../lib/runtime/release/aws/dynamodb-release-store.ts';
import { type LocalDynamoDb, startDynalite } from '../../../helpers/dynalite.ts';
import { describeReleaseStoreContract, holder, NOW, TTL } from '../release-store-contract.ts';

let dynamo: LocalDynamoDb;

beforeAll(async () => {
  dynamo = await startDynalite();
});

afterAll(async () => {
  await dynamo?.stop();
});

/** A store over a fresh table, so that tests do not see each other's lock. */
async function freshStore(): Promise<{ store: DynamoDbReleaseStore; tableName: string }> {
  const tableName = await dynamo.createReleaseTable();
  return { store: new DynamoDbReleaseStore({ client: dynamo.documentClient, tableName }), tableName };
}

/** A client whose every request fails with `error`: for answers dynalite cannot give. */
function failingClient(error: Error): DynamoDBDocumentClient {
  return { send: async () => Promise.reject(error) } as unknown as DynamoDBDocumentClient;
}

describeReleaseStoreContract(async () => (await freshStore()).store);

describe('lock in DynamoDB', () => {
  it('lets at most one win, whatever the previous holder, ttl, clocks and order of arrival', async () => {
    const { store, tableName } = await freshStore();
    const previous = fc.option(fc.record({ ttl: fc.integer({ min: 1, max: 120_000 }), age: fc.integer({ min: 0, max: 240_000 }) }), { nil: undefined });
    const racers = fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 2, maxLength: 8 });

    await fc.assert(
      fc.asyncProperty(previous, racers, fc.integer({ min: 1_000, max: 120_000 }), fc.scheduler(), async (old, clockOffsets, ttl, scheduler) => {
        await dynamo.documentClient.send(new DeleteCommand({ TableName: tableName, Key: { pk: 'lock', sk: 'lock' } }));
        const oldLock = old && (await store.tryAcquireLock(holder('old'), old.ttl, NOW - old.age));
        const oldState = oldLock?.acquired ? oldLock.lock : undefined;
        const canTakeOver = (now: number) => oldState === undefined || oldState.expiresAt < now;

        // The scheduler decides the order in which racers send their request; each reads its own clock.
        const attempts = clockOffsets.map((offset, index) =>
          scheduler.schedule(Promise.resolve(index)).then(() => store.tryAcquireLock(holder(`racer${index}`), ttl, NOW + offset)),
        );
        await scheduler.waitAll();
        const results = await Promise.all(attempts);

        // ttl exceeds the clock spread (≤ 500 ms), so a winner's lock never looks expired to another racer.
        const winners = results.filter((result) => result.acquired);
        const anyCanTakeOver = clockOffsets.some((offset) => canTakeOver(NOW + offset));
        expect(winners).toHaveLength(anyCanTakeOver ? 1 : 0);
        const winner = winners[0]?.acquired ? winners[0] : undefined;
        expect(await store.readLock()).toEqual(winner ? winner.lock : oldState);
        if (winner) {
          expect(winner.tookOverFrom).toEqual(oldState);
          expect(canTakeOver(winner.lock.acquiredAt)).toBe(true);
        }
        results.forEach((result, index) => {
          if (result.acquired) return;
          // A racer whose clock still saw the old lock alive may have been refused by it, before the winner came.
          const expected = canTakeOver(NOW + clockOffsets[index]!) ? [winner?.lock] : [oldState, winner?.lock];
          expect(expected).toContainEqual(result.heldBy);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('reports the holder DynamoDB returns with a failed condition, without reading it again', async () => {
    const failed = new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: {
        pk: { S: 'lock' }, sk: { S: 'lock' }, releaseId: { S: 'a' }, version: { S: 'v-a' }, holder: { S: 'ci@a' },
        requestedAt: { N: String(NOW) }, acquiredAt: { N: String(NOW) }, heartbeatAt: { N: String(NOW) }, expiresAtMs: { N: String(NOW + TTL) },
      },
    });
    const store = new DynamoDbReleaseStore({ client: failingClient(failed), tableName: 'release' });

    expect(await store.tryAcquireLock(holder('b'), TTL, NOW)).toEqual({
      acquired: false,
      heldBy: { ...holder('a'), acquiredAt: NOW, heartbeatAt: NOW, expiresAt: NOW + TTL },
    });
  });
});

describe('errors', () => {
  it('says how to fix a missing table', async () => {
    const store = new DynamoDbReleaseStore({ client: dynamo.documentClient, tableName: 'no-such-table' });

    await expect(store.tryAcquireLock(holder('a'), TTL, NOW)).rejects.toThrow(
      new ReleaseTableError('no-such-table', 'tryAcquireLock', 'release table no-such-table not found: deploy the stack or pass --release-table', 'ReleaseTableNotFound'),
    );
    await expect(store.listHistory(5)).rejects.toMatchObject({ name: 'ReleaseTableError', reasonCode: 'ReleaseTableNotFound' });
  });

  it('names the table, the operation and what to check on any other failure', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform dynamodb:PutItem'), { name: 'AccessDeniedException' });
    const store = new DynamoDbReleaseStore({ client: failingClient(denied), tableName: 'release' });

    await expect(store.joinQueue(holder('a'), NOW, TTL)).rejects.toThrow(
      /^joinQueue on release table release failed: AccessDeniedException: User is not authorized .*; check the table name \(stack output ReleaseTableName or --release-table\)/,
    );
  });
});
