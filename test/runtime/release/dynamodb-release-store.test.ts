import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDbReleaseStore,
  ReleaseTableError,
  UnfinishedJournalError,
} from '../../../lib/runtime/release/dynamodb-release-store.ts';
import { LockLostError } from '../../../lib/runtime/release/errors.ts';
import type { JournalTarget, LockHolder, ReleaseRecord } from '../../../lib/runtime/release/ports.ts';
import { type LocalDynamoDb, startDynalite } from '../../helpers/dynalite.ts';
import { SIMULATION_EPOCH } from '../../helpers/virtual-clock.ts';

const NOW = SIMULATION_EPOCH;
const TTL = 60_000;

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

function holder(releaseId: string, requestedAt = NOW, version = `v-${releaseId}`): LockHolder {
  return { releaseId, version, holder: `ci@${releaseId}`, requestedAt };
}

function release(releaseId: string, startedAt: number, extra: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return { releaseId, version: `v-${releaseId}`, previousVersion: 'v-0', holder: `ci@${releaseId}`, requestedAt: startedAt - 1_000, startedAt, ...extra };
}

function step(targetId: string, updatedAt: number, targetStep: JournalTarget['step'] = 'installing'): JournalTarget {
  return { targetId, fromVersion: 'v-0', toVersion: 'v-1', step: targetStep, updatedAt };
}

/** A client whose every request fails with `error`: for answers dynalite cannot give. */
function failingClient(error: Error): DynamoDBDocumentClient {
  return { send: async () => Promise.reject(error) } as unknown as DynamoDBDocumentClient;
}

describe('lock', () => {
  it('is acquired when free, and a second release is refused and told who holds it', async () => {
    const { store } = await freshStore();

    const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
    const second = await store.tryAcquireLock(holder('b'), TTL, NOW + 1_000);

    expect(first).toEqual({
      acquired: true,
      lock: { ...holder('a'), acquiredAt: NOW, heartbeatAt: NOW, expiresAt: NOW + TTL },
    });
    expect(second).toEqual({ acquired: false, heldBy: first.acquired && first.lock });
    expect(await store.readLock()).toEqual(first.acquired && first.lock);
  });

  it('is taken over only after it expired, and reports whom it took over from', async () => {
    const { store } = await freshStore();
    const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
    const expiry = NOW + TTL;

    const atExpiry = await store.tryAcquireLock(holder('b'), TTL, expiry);
    const afterExpiry = await store.tryAcquireLock(holder('b'), TTL, expiry + 1);

    expect(atExpiry.acquired).toBe(false);
    expect(afterExpiry).toMatchObject({ acquired: true, lock: { releaseId: 'b', expiresAt: expiry + 1 + TTL } });
    expect(afterExpiry.acquired && afterExpiry.tookOverFrom).toEqual(first.acquired && first.lock);
  });

  it('is acquired again by its own release without a takeover', async () => {
    const { store } = await freshStore();
    await store.tryAcquireLock(holder('a'), TTL, NOW);

    const again = await store.tryAcquireLock(holder('a'), TTL, NOW + 5_000);

    expect(again).toEqual({
      acquired: true,
      lock: { ...holder('a'), acquiredAt: NOW + 5_000, heartbeatAt: NOW + 5_000, expiresAt: NOW + 5_000 + TTL },
    });
  });

  it('is extended by a heartbeat, which keeps others out past the first expiry', async () => {
    const { store } = await freshStore();
    const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
    if (!first.acquired) throw new Error('setup: lock not acquired');

    const extended = await store.heartbeat(first.lock, TTL, NOW + 50_000);
    const other = await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1);

    expect(extended).toEqual({ ...first.lock, heartbeatAt: NOW + 50_000, expiresAt: NOW + 50_000 + TTL });
    expect(other).toEqual({ acquired: false, heldBy: extended });
  });

  it('throws LockLostError on a heartbeat after another release took it over', async () => {
    const { store } = await freshStore();
    const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
    if (!first.acquired) throw new Error('setup: lock not acquired');
    await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1);

    await expect(store.heartbeat(first.lock, TTL, NOW + TTL + 2)).rejects.toThrow(LockLostError);
    expect(await store.readLock()).toMatchObject({ releaseId: 'b' });
  });

  it('is released only by its holder', async () => {
    const { store } = await freshStore();
    const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
    if (!first.acquired) throw new Error('setup: lock not acquired');
    const second = await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1);
    if (!second.acquired) throw new Error('setup: takeover failed');

    await store.releaseLock(first.lock);
    expect(await store.readLock()).toEqual(second.lock);

    await store.releaseLock(second.lock);
    expect(await store.readLock()).toBeUndefined();
    await expect(store.releaseLock(second.lock)).resolves.toBeUndefined();
  });

  it('lets exactly one of ten concurrent releases win', async () => {
    const { store } = await freshStore();
    const holders = Array.from({ length: 10 }, (_, index) => holder(`r${index}`));

    const attempts = await Promise.all(holders.map((each) => store.tryAcquireLock(each, TTL, NOW)));

    const winners = attempts.filter((attempt) => attempt.acquired);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.acquired && winners[0]!.lock;
    for (const attempt of attempts) {
      if (!attempt.acquired) expect(attempt.heldBy).toEqual(winner);
    }
    expect(await store.readLock()).toEqual(winner);
  });

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

describe('queue', () => {
  it('lists waiting releases oldest request first and leaves out the ones that stopped refreshing', async () => {
    const { store } = await freshStore();
    await store.joinQueue(holder('late', NOW + 2_000), NOW, 30_000);
    await store.joinQueue(holder('early', NOW + 1_000), NOW, 30_000);
    await store.joinQueue(holder('gone', NOW + 500), NOW, 10_000);
    await store.joinQueue(holder('refreshed', NOW + 1_500), NOW, 10_000);
    await store.joinQueue(holder('refreshed', NOW + 1_500), NOW + 20_000, 10_000);

    const waiting = await store.listQueue(NOW + 25_000);

    expect(waiting).toEqual([holder('early', NOW + 1_000), holder('refreshed', NOW + 1_500), holder('late', NOW + 2_000)]);
    expect(await store.listQueue(NOW + 31_000)).toEqual([]);
  });

  it('forgets a release that left', async () => {
    const { store } = await freshStore();
    await store.joinQueue(holder('a'), NOW, 30_000);
    await store.joinQueue(holder('b', NOW + 1), NOW, 30_000);

    await store.leaveQueue(holder('a'));
    await store.leaveQueue(holder('a'));

    expect(await store.listQueue(NOW)).toEqual([holder('b', NOW + 1)]);
  });
});

describe('journal and history', () => {
  it('records steps, reads them back, and on finish moves the release to the history', async () => {
    const { store } = await freshStore();
    const running = release('r1', NOW, { targets: 12 });
    await store.startJournal(running);
    for (let index = 0; index < 12; index++) await store.recordStep('r1', step(`i-${index}`, NOW + index));
    await store.recordStep('r1', step('i-0', NOW + 100, 'done'));

    const journal = await store.readJournal();
    expect(journal?.release).toEqual(running);
    expect(journal?.targets).toHaveLength(12);
    expect(journal?.targets.at(-1)).toEqual(step('i-0', NOW + 100, 'done'));

    const finished = { ...running, finishedAt: NOW + 200, outcome: 'succeeded' as const };
    await store.finishRelease(finished);
    await store.finishRelease(finished);

    expect(await store.readJournal()).toBeUndefined();
    expect(await store.listHistory(10)).toEqual([finished]);
  });

  it('lists the history newest first, up to the limit', async () => {
    const { store } = await freshStore();
    for (const [id, startedAt] of [['old', NOW], ['newest', NOW + 20_000], ['middle', NOW + 10_000]] as const) {
      await store.startJournal(release(id, startedAt));
      await store.finishRelease(release(id, startedAt, { finishedAt: startedAt + 1, outcome: 'succeeded' }));
    }

    expect((await store.listHistory(10)).map((record) => record.releaseId)).toEqual(['newest', 'middle', 'old']);
    expect((await store.listHistory(2)).map((record) => record.releaseId)).toEqual(['newest', 'middle']);
    expect(await store.listHistory(0)).toEqual([]);
  });

  it('refuses to start over the unfinished journal of another release', async () => {
    const { store } = await freshStore();
    await store.startJournal(release('crashed', NOW));
    await store.recordStep('crashed', step('i-1', NOW + 1, 'draining'));

    await expect(store.startJournal(release('next', NOW + 60_000))).rejects.toThrow(UnfinishedJournalError);
    await expect(store.startJournal(release('next', NOW + 60_000))).rejects.toThrow(
      /release crashed \(v-crashed by ci@crashed, started 2026-01-01T00:00:00.000Z\) left an unfinished journal; repair or finish it before starting release next/,
    );
    expect(await store.readJournal()).toEqual({ release: release('crashed', NOW), targets: [step('i-1', NOW + 1, 'draining')] });

    await store.finishRelease(release('crashed', NOW, { finishedAt: NOW + 60_000, outcome: 'aborted' }));
    await store.startJournal(release('next', NOW + 60_000));
    expect(await store.readJournal()).toEqual({ release: release('next', NOW + 60_000), targets: [] });
  });

  it('keeps the recorded steps when a release starts its own journal again', async () => {
    const { store } = await freshStore();
    await store.startJournal(release('r1', NOW));
    await store.recordStep('r1', step('i-1', NOW + 1));

    await store.startJournal(release('r1', NOW, { targets: 2 }));

    expect(await store.readJournal()).toEqual({ release: release('r1', NOW, { targets: 2 }), targets: [step('i-1', NOW + 1)] });
  });

  it('refuses steps from a release whose journal another release replaced', async () => {
    const { store } = await freshStore();
    await store.startJournal(release('old', NOW));
    await store.finishRelease(release('old', NOW, { finishedAt: NOW + 1, outcome: 'aborted' }));
    await store.startJournal(release('new', NOW + 2));

    await expect(store.recordStep('old', step('i-1', NOW + 3))).rejects.toThrow(LockLostError);
    expect((await store.readJournal())?.targets).toEqual([]);
  });

  it('refuses steps when no journal is open', async () => {
    const { store } = await freshStore();

    await expect(store.recordStep('r1', step('i-1', NOW))).rejects.toThrow(
      /^recordStep on release table release-\d+ failed: release r1 has no open journal; call startJournal before recording steps$/,
    );
  });

  it('records the history of a release that never started a journal, leaving the open one alone', async () => {
    const { store } = await freshStore();
    await store.startJournal(release('running', NOW));
    const superseded = release('waiter', NOW + 5, { finishedAt: NOW + 6, outcome: 'superseded' });

    await store.finishRelease(superseded);

    expect(await store.listHistory(5)).toEqual([superseded]);
    expect((await store.readJournal())?.release.releaseId).toBe('running');
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
