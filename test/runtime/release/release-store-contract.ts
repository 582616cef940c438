// The rules every ReleaseStore keeps (ports.ts, release-store-rules.ts), as one suite that each
// store's test runs against its own storage: the lock, the queue, the journal and the history.

import { describe, expect, it } from 'vitest';
import { LockLostError } from '../../../lib/runtime/release/errors.ts';
import type { JournalTarget, LockAttempt, LockHolder, ReleaseRecord, ReleaseStore } from '../../../lib/runtime/release/ports.ts';
import { UnfinishedJournalError } from '../../../lib/runtime/release/release-store-rules.ts';
import { SIMULATION_EPOCH } from '../../helpers/virtual-clock.ts';

export const NOW = SIMULATION_EPOCH;
export const TTL = 60_000;

export function holder(releaseId: string, requestedAt = NOW, version = `v-${releaseId}`): LockHolder {
  return { releaseId, version, holder: `ci@${releaseId}`, requestedAt };
}

export function release(releaseId: string, startedAt: number, extra: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return { releaseId, version: `v-${releaseId}`, previousVersion: 'v-0', holder: `ci@${releaseId}`, requestedAt: startedAt - 1_000, startedAt, ...extra };
}

export function step(targetId: string, updatedAt: number, targetStep: JournalTarget['step'] = 'installing'): JournalTarget {
  return { targetId, fromVersion: 'v-0', toVersion: 'v-1', step: targetStep, updatedAt };
}

/** The lock of a successful attempt; a failed one is a broken test setup. */
export function acquired(attempt: LockAttempt) {
  if (!attempt.acquired) throw new Error(`setup: lock held by ${attempt.heldBy.releaseId}`);
  return attempt.lock;
}

/** Registers the suite; `freshStore` gives a store over empty storage that no other test sees. */
export function describeReleaseStoreContract(freshStore: () => Promise<ReleaseStore>): void {
  describe('lock', () => {
    it('is acquired when free, and a second release is refused and told who holds it', async () => {
      const store = await freshStore();

      const first = await store.tryAcquireLock(holder('a'), TTL, NOW);
      const second = await store.tryAcquireLock(holder('b'), TTL, NOW + 1_000);

      expect(first).toEqual({ acquired: true, lock: { ...holder('a'), acquiredAt: NOW, heartbeatAt: NOW, expiresAt: NOW + TTL } });
      expect(second).toEqual({ acquired: false, heldBy: acquired(first) });
      expect(await store.readLock()).toEqual(acquired(first));
    });

    it('is taken over only after it expired, and reports whom it took over from', async () => {
      const store = await freshStore();
      const first = acquired(await store.tryAcquireLock(holder('a'), TTL, NOW));
      const expiry = NOW + TTL;

      const atExpiry = await store.tryAcquireLock(holder('b'), TTL, expiry);
      const afterExpiry = await store.tryAcquireLock(holder('b'), TTL, expiry + 1);

      expect(atExpiry.acquired).toBe(false);
      expect(afterExpiry).toEqual({
        acquired: true,
        lock: { ...holder('b'), acquiredAt: expiry + 1, heartbeatAt: expiry + 1, expiresAt: expiry + 1 + TTL },
        tookOverFrom: first,
      });
    });

    it('is acquired again by its own release without a takeover', async () => {
      const store = await freshStore();
      await store.tryAcquireLock(holder('a'), TTL, NOW);

      const again = await store.tryAcquireLock(holder('a'), TTL, NOW + 5_000);

      expect(again).toEqual({ acquired: true, lock: { ...holder('a'), acquiredAt: NOW + 5_000, heartbeatAt: NOW + 5_000, expiresAt: NOW + 5_000 + TTL } });
    });

    it('is extended by a heartbeat, which keeps others out past the first expiry', async () => {
      const store = await freshStore();
      const first = acquired(await store.tryAcquireLock(holder('a'), TTL, NOW));

      const extended = await store.heartbeat(first, TTL, NOW + 50_000);
      const other = await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1);

      expect(extended).toEqual({ ...first, heartbeatAt: NOW + 50_000, expiresAt: NOW + 50_000 + TTL });
      expect(other).toEqual({ acquired: false, heldBy: extended });
    });

    it('throws LockLostError on a heartbeat after another release took it over', async () => {
      const store = await freshStore();
      const first = acquired(await store.tryAcquireLock(holder('a'), TTL, NOW));
      await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1);

      await expect(store.heartbeat(first, TTL, NOW + TTL + 2)).rejects.toThrow(LockLostError);
      expect(await store.readLock()).toMatchObject({ releaseId: 'b' });
    });

    it('is released only by its holder', async () => {
      const store = await freshStore();
      const first = acquired(await store.tryAcquireLock(holder('a'), TTL, NOW));
      const second = acquired(await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1));

      await store.releaseLock(first);
      expect(await store.readLock()).toEqual(second);

      await store.releaseLock(second);
      expect(await store.readLock()).toBeUndefined();
      await expect(store.releaseLock(second)).resolves.toBeUndefined();
    });

    it('lets exactly one of ten concurrent releases win', async () => {
      const store = await freshStore();

      const attempts = await Promise.all(Array.from({ length: 10 }, (_, index) => store.tryAcquireLock(holder(`r${index}`), TTL, NOW)));

      const winners = attempts.filter((attempt) => attempt.acquired);
      expect(winners).toHaveLength(1);
      const winner = acquired(winners[0]!);
      for (const attempt of attempts) if (!attempt.acquired) expect(attempt.heldBy).toEqual(winner);
      expect(await store.readLock()).toEqual(winner);
    });
  });

  describe('queue', () => {
    it('lists waiting releases oldest request first and leaves out the ones that stopped refreshing', async () => {
      const store = await freshStore();
      await store.joinQueue(holder('late', NOW + 2_000), NOW, 30_000);
      await store.joinQueue(holder('early', NOW + 1_000), NOW, 30_000);
      await store.joinQueue(holder('gone', NOW + 500), NOW, 10_000);
      await store.joinQueue(holder('refreshed', NOW + 1_500), NOW, 10_000);
      await store.joinQueue(holder('refreshed', NOW + 1_500), NOW + 20_000, 10_000);

      expect(await store.listQueue(NOW + 25_000)).toEqual([holder('early', NOW + 1_000), holder('refreshed', NOW + 1_500), holder('late', NOW + 2_000)]);
      expect(await store.listQueue(NOW + 31_000)).toEqual([]);
    });

    it('forgets a release that left', async () => {
      const store = await freshStore();
      await store.joinQueue(holder('a'), NOW, 30_000);
      await store.joinQueue(holder('b', NOW + 1), NOW, 30_000);

      await store.leaveQueue(holder('a'));
      await store.leaveQueue(holder('a'));

      expect(await store.listQueue(NOW)).toEqual([holder('b', NOW + 1)]);
    });
  });

  describe('journal and history', () => {
    it('records steps, reads them back in order, and on finish moves the release to the history', async () => {
      const store = await freshStore();
      const running = release('r1', NOW, { targets: 12 });
      await store.startJournal(running);
      for (let index = 0; index < 12; index++) await store.recordStep('r1', step(`i-${index}`, NOW + index));
      await store.recordStep('r1', step('i-0', NOW + 100, 'done'));

      const journal = await store.readJournal();
      expect(journal?.release).toEqual(running);
      expect(journal?.targets.map((target) => target.targetId)).toEqual([...Array.from({ length: 11 }, (_, index) => `i-${index + 1}`), 'i-0']);
      expect(journal?.targets.at(-1)).toEqual(step('i-0', NOW + 100, 'done'));

      const finished = { ...running, finishedAt: NOW + 200, outcome: 'succeeded' as const };
      await store.finishRelease(finished);
      await store.finishRelease(finished);

      expect(await store.readJournal()).toBeUndefined();
      expect(await store.listHistory(10)).toEqual([finished]);
    });

    it('lists the history newest first, up to the limit', async () => {
      const store = await freshStore();
      for (const [id, startedAt] of [['old', NOW], ['newest', NOW + 20_000], ['middle', NOW + 10_000]] as const) {
        await store.startJournal(release(id, startedAt));
        await store.finishRelease(release(id, startedAt, { finishedAt: startedAt + 1, outcome: 'succeeded' }));
      }

      expect((await store.listHistory(10)).map((record) => record.releaseId)).toEqual(['newest', 'middle', 'old']);
      expect((await store.listHistory(2)).map((record) => record.releaseId)).toEqual(['newest', 'middle']);
      expect(await store.listHistory(0)).toEqual([]);
    });

    it('refuses to start over the unfinished journal of another release', async () => {
      const store = await freshStore();
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
      const store = await freshStore();
      await store.startJournal(release('r1', NOW));
      await store.recordStep('r1', step('i-1', NOW + 1));

      await store.startJournal(release('r1', NOW, { targets: 2 }));

      expect(await store.readJournal()).toEqual({ release: release('r1', NOW, { targets: 2 }), targets: [step('i-1', NOW + 1)] });
    });

    it('refuses steps from a release whose journal another release replaced', async () => {
      const store = await freshStore();
      await store.startJournal(release('old', NOW));
      await store.finishRelease(release('old', NOW, { finishedAt: NOW + 1, outcome: 'aborted' }));
      await store.startJournal(release('new', NOW + 2));

      await expect(store.recordStep('old', step('i-1', NOW + 3))).rejects.toThrow(LockLostError);
      expect((await store.readJournal())?.targets).toEqual([]);
    });

    it('refuses steps when no journal is open', async () => {
      const store = await freshStore();

      await expect(store.recordStep('r1', step('i-1', NOW))).rejects.toMatchObject({
        reasonCode: 'JournalNotStarted',
        message: expect.stringMatching(/^recordStep on release \w+ .+ failed: release r1 has no open journal; call startJournal before recording steps$/),
      });
    });

    it('records the history of a release that never started a journal, leaving the open one alone', async () => {
      const store = await freshStore();
      await store.startJournal(release('running', NOW));
      const superseded = release('waiter', NOW + 5, { finishedAt: NOW + 6, outcome: 'superseded' });

      await store.finishRelease(superseded);

      expect(await store.listHistory(5)).toEqual([superseded]);
      expect((await store.readJournal())?.release.releaseId).toBe('running');
    });
  });
}
