// Lease balancing as a pure function: each round is safe (takes only free leases, never more than the
// target, unowned before expired, steals at most one and only from an overloaded worker), and rounds
// converge: every lease held, each worker at ceil(leases / workers) or one less, and then nothing moves.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LeaseStanding, planLeaseTakes } from '../../../lib/runtime/stream/lease-balancer.ts';

const first = <T>(choices: readonly T[]): T => choices[0]!;

/** A table as one worker sees it: each lease held by a worker, unowned, or expired. */
const standings = fc
  .record({
    workers: fc.integer({ min: 1, max: 6 }),
    holders: fc.array(fc.integer({ min: -2, max: 5 }), { minLength: 0, maxLength: 20 }),
  })
  .map(({ workers, holders }) =>
    holders.map((holder, index): LeaseStanding => {
      const leaseKey = `shard-${index}`;
      if (holder === -1) return { leaseKey, unowned: true };
      if (holder === -2) return { leaseKey };
      return { leaseKey, holder: `w${holder % workers}` };
    }),
  );

describe('planLeaseTakes', () => {
  it('takes only free leases, unowned first, never beyond ceil(leases / live workers), and steals only when nothing is free', () => {
    fc.assert(
      fc.property(standings, fc.integer({ min: 1, max: 20 }), (leases, maxLeasesPerWorker) => {
        const plan = planLeaseTakes({ workerId: 'w0', leases, maxLeasesPerWorker, pick: first });
        const counts = new Map<string, number>([['w0', 0]]);
        for (const { holder } of leases) if (holder) counts.set(holder, (counts.get(holder) ?? 0) + 1);
        const target = Math.min(maxLeasesPerWorker, Math.ceil(leases.length / counts.size));
        const mine = counts.get('w0')!;
        const free = leases.filter((lease) => lease.holder === undefined);

        expect(new Set(plan.take).size).toBe(plan.take.length);
        for (const key of plan.take) expect(free.map((lease) => lease.leaseKey)).toContain(key);
        expect(mine + plan.take.length).toBeLessThanOrEqual(Math.max(mine, target));
        // Progress: a worker below target takes what it can.
        if (mine < target) expect(plan.take.length).toBe(Math.min(target - mine, free.length));
        const takesExpired = plan.take.some((key) => !leases.find((lease) => lease.leaseKey === key)!.unowned);
        if (takesExpired) for (const lease of free.filter((candidate) => candidate.unowned)) expect(plan.take).toContain(lease.leaseKey);

        if (plan.steal) {
          expect(free).toEqual([]);
          expect(plan.take).toEqual([]);
          const victimCount = counts.get(plan.steal.from)!;
          expect(plan.steal.from).not.toBe('w0');
          expect(leases.find((lease) => lease.leaseKey === plan.steal!.leaseKey)!.holder).toBe(plan.steal.from);
          expect(Math.max(...[...counts].filter(([worker]) => worker !== 'w0').map(([, count]) => count))).toBe(victimCount);
          expect(victimCount > target || (victimCount === target && target - mine > 1)).toBe(true);
        }
      }),
    );
  });

  it('converges from any start: every lease held, every worker at the target or one below, then stable', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((workerCount) =>
          fc.record({
            workerCount: fc.constant(workerCount),
            initial: fc.array(fc.integer({ min: -1, max: workerCount - 1 }), { minLength: 1, maxLength: 12 }),
            rounds: fc.array(fc.shuffledSubarray([...Array(workerCount).keys()], { minLength: workerCount, maxLength: workerCount }), { minLength: 40, maxLength: 40 }),
          }),
        ),
        ({ workerCount, initial, rounds }) => {
          const holders: (string | undefined)[] = initial.map((holder) => (holder < 0 ? undefined : `w${holder}`));
          const view = (): LeaseStanding[] => holders.map((holder, index) => (holder ? { leaseKey: `${index}`, holder } : { leaseKey: `${index}`, unowned: true }));
          const turn = (worker: string): boolean => {
            const plan = planLeaseTakes({ workerId: worker, leases: view(), maxLeasesPerWorker: 100, pick: first });
            for (const key of plan.take) holders[Number(key)] = worker;
            if (plan.steal) holders[Number(plan.steal.leaseKey)] = worker;
            return plan.take.length > 0 || plan.steal !== undefined;
          };
          for (const order of rounds) for (const index of order) turn(`w${index}`);

          const target = Math.ceil(holders.length / workerCount);
          const counts = [...Array(workerCount).keys()].map((index) => holders.filter((holder) => holder === `w${index}`).length);
          expect(holders.every((holder) => holder !== undefined)).toBe(true);
          for (const count of counts) expect(count === target || count === target - 1).toBe(true);
          // Stable: another round moves nothing (no stealing back and forth).
          for (let index = 0; index < workerCount; index++) expect(turn(`w${index}`)).toBe(false);
        },
      ),
    );
  });

  it('takes nothing when at the target, and with four leases held by one other worker steals one (of four) toward 2/2', () => {
    const four = ['a', 'b', 'c', 'd'].map((leaseKey) => ({ leaseKey, holder: 'other' }));
    expect(planLeaseTakes({ workerId: 'me', leases: four, maxLeasesPerWorker: 10, pick: first })).toEqual({ take: [], steal: { leaseKey: 'a', from: 'other' } });
    const balanced = four.map((lease, index) => (index < 2 ? lease : { ...lease, holder: 'me' }));
    expect(planLeaseTakes({ workerId: 'me', leases: balanced, maxLeasesPerWorker: 10, pick: first })).toEqual({ take: [] });
  });
});
