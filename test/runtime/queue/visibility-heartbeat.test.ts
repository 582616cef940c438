// The heartbeat on its own, on a virtual clock: what it extends, when, by how much, and where it stops.
import { describe, expect, it } from 'vitest';
import { VisibilityLimitError } from '../../../lib/runtime/queue/errors.ts';
import { createLease, MAX_VISIBILITY_SECONDS, type MessageLease } from '../../../lib/runtime/queue/message-lease.ts';
import type { BatchOutcome } from '../../../lib/runtime/queue/sqs-batcher.ts';
import { VisibilityHeartbeat } from '../../../lib/runtime/queue/visibility-heartbeat.ts';
import { VirtualClock } from '../../helpers/virtual-clock.ts';

const HOUR = 60 * 60 * 1000;

function setup(visibilityTimeoutSeconds: number, answer: (lease: MessageLease) => BatchOutcome = () => ({ ok: true })) {
  const clock = new VirtualClock(1_000_000);
  const extensions: { messageId: string; seconds: number; at: number }[] = [];
  const lost: { messageId: string; error: Error }[] = [];
  const rounds: string[][] = [];
  const heartbeat = new VisibilityHeartbeat({
    visibilityTimeoutSeconds,
    clock,
    extend: async (lease, seconds) => {
      extensions.push({ messageId: lease.messageId, seconds, at: clock.now() });
      return answer(lease);
    },
    flush: () => undefined,
    onExtended: (leases) => rounds.push(leases.map((lease) => lease.messageId)),
    onLost: (lease, error) => lost.push({ messageId: lease.messageId, error }),
  });
  const lease = (messageId: string) => {
    const created = createLease({ MessageId: messageId, ReceiptHandle: `handle-${messageId}` }, clock.now(), visibilityTimeoutSeconds);
    heartbeat.track(created);
    return created;
  };
  return { clock, heartbeat, lease, extensions, lost, rounds };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('VisibilityHeartbeat', () => {
  it('extends a lease by a full timeout once half of it has passed, and not before', async () => {
    const { clock, heartbeat, lease, extensions, rounds } = setup(60);
    const held = lease('a');

    clock.timers.tick(29_000);
    heartbeat.beat();
    expect(extensions).toEqual([]);

    clock.timers.tick(2_000);
    heartbeat.beat();
    await settle();
    expect(extensions).toEqual([{ messageId: 'a', seconds: 60, at: 1_031_000 }]);
    expect(held.visibleAt).toBe(clock.now() + 60_000);
    expect(rounds).toEqual([['a']]);
  });

  it('once started, extends a held lease on its own each time half of its timeout is left', async () => {
    const { clock, heartbeat, lease, extensions } = setup(60);
    const receivedAt = clock.now();
    lease('a');
    heartbeat.start();
    await clock.run(clock.sleep(95_000));
    heartbeat.stop();
    // 60 s of visibility from the receive: 30 s left at 30 s, and again 30 s after each extension.
    expect(extensions.map(({ messageId, seconds, at }) => [messageId, seconds, at - receivedAt])).toEqual([['a', 60, 30_000], ['a', 60, 60_000], ['a', 60, 90_000]]);
    expect(clock.timers.countTimers()).toBe(0);
  });

  it('never asks for more than the 12 hours SQS allows since the receive, then reports the lease lost', async () => {
    const { clock, heartbeat, lease, extensions, lost } = setup(3_600);
    const receivedAt = clock.now();
    const held = lease('a');

    // 11.5 h in: less than a full hour is left under the limit.
    clock.timers.tick(11.5 * HOUR);
    held.visibleAt = clock.now() + 1_000;
    heartbeat.beat();
    await settle();
    const [capped] = extensions;
    expect(capped!.seconds).toBeLessThan(1_800);
    expect(11.5 * 3_600 + capped!.seconds).toBeLessThanOrEqual(MAX_VISIBILITY_SECONDS);

    // Seconds before the limit: nothing left to ask for.
    clock.timers.setSystemTime(receivedAt + 12 * HOUR - 5_000);
    heartbeat.beat();
    await settle();
    expect(extensions).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.error).toBeInstanceOf(VisibilityLimitError);
  });

  it('reports a lease SQS refuses to extend and stops watching it; an untracked lease is left alone', async () => {
    const { clock, heartbeat, lease, extensions, lost } = setup(10, (refused) => (refused.messageId === 'gone' ? { ok: false, error: new Error('MessageNotInflight') } : { ok: true }));
    lease('gone');
    const settled = lease('settled');
    heartbeat.untrack(settled);

    clock.timers.tick(6_000);
    heartbeat.beat();
    await settle();
    clock.timers.tick(6_000);
    heartbeat.beat();
    await settle();

    expect(extensions.map((extension) => extension.messageId)).toEqual(['gone']);
    expect(lost.map((entry) => entry.error.message)).toEqual(['MessageNotInflight']);
  });
});
