// Sticky percentages as the README promises them: the share of users a rollout reaches is the
// percentage (within 0.3 points over 100,000 users), a user in at 5 % stays in at any higher
// percentage, and the users one flag reaches tell nothing about another's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInPercentage } from '../../../lib/runtime/flags/bucketing.ts';

const USERS = Array.from({ length: 100_000 }, (_, index) => `user-${index}`);

function share(flag: string, percentage: number, users: readonly string[] = USERS): number {
  return (users.filter((user) => isInPercentage(flag, user, percentage)).length / users.length) * 100;
}

describe('bucketing', () => {
  it.each([1, 5, 50])('reaches %i percent of 100,000 users within ±0.3 points', (percentage) => {
    expect(Math.abs(share('jobs-batch-submit', percentage) - percentage)).toBeLessThanOrEqual(0.3);
  });

  it('reaches nobody at 0 % and everybody at 100 %', () => {
    expect(share('jobs-batch-submit', 0, USERS.slice(0, 10_000))).toBe(0);
    expect(share('jobs-batch-submit', 100, USERS.slice(0, 10_000))).toBe(100);
  });

  it('is monotonic: a user in at one percentage is in at every higher one, and raising it adds users', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.string(), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (flag, user, a, b) => {
        const [low, high] = a <= b ? [a / 100, b / 100] : [b / 100, a / 100];
        if (isInPercentage(flag, user, low)) expect(isInPercentage(flag, user, high)).toBe(true);
        if (!isInPercentage(flag, user, high)) expect(isInPercentage(flag, user, low)).toBe(false);
      }),
      { numRuns: 2000 },
    );
    // Progress as well as safety: each step of a ramp reaches strictly more of the same users.
    const sample = USERS.slice(0, 20_000);
    const reached = [1, 5, 25, 100].map((percentage) => new Set(sample.filter((user) => isInPercentage('jobs-batch-submit', user, percentage))));
    for (let index = 1; index < reached.length; index += 1) {
      expect([...reached[index - 1]!].every((user) => reached[index]!.has(user))).toBe(true);
      expect(reached[index]!.size).toBeGreaterThan(reached[index - 1]!.size);
    }
  });

  it('is stable: the same flag and user get the same answer every time', () => {
    fc.assert(fc.property(fc.string(), fc.double({ min: 0, max: 100, noNaN: true }), (user, percentage) => {
      expect(isInPercentage('jobs-batch-submit', user, percentage)).toBe(isInPercentage('jobs-batch-submit', user, percentage));
    }));
  });

  it('is independent across flags: the users in one flag\'s 5 % are 5 % of another\'s, and two 50 % overlap on a quarter', () => {
    const inA = USERS.filter((user) => isInPercentage('flag-a', user, 5));
    // About 5,000 users: a binomial standard deviation of 0.3 points, so ±1 point is over three of them.
    expect(Math.abs(share('flag-b', 5, inA) - 5)).toBeLessThanOrEqual(1);
    const bothHalves = USERS.filter((user) => isInPercentage('flag-a', user, 50) && isInPercentage('flag-b', user, 50)).length;
    expect(Math.abs((bothHalves / USERS.length) * 100 - 25)).toBeLessThanOrEqual(0.5);
  });
});
