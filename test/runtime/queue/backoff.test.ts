import { describe, expect, it } from 'vitest';
import { exponentialBackoff, withJitter } from '../../../lib/runtime/backoff.ts';
import { failureVisibilitySeconds } from '../../../lib/runtime/queue/backoff.ts';

describe('backoff', () => {
  it('doubles per attempt from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => exponentialBackoff(attempt, { initial: 5, max: 100 }))).toEqual([5, 10, 20, 40, 80, 100]);
    expect(exponentialBackoff(5_000, { initial: 5, max: 900 })).toBe(900);
  });

  it('gives a failed message whole seconds of invisibility by its receive count', () => {
    expect([1, 2, 3].map((receiveCount) => failureVisibilitySeconds(receiveCount, { initial: 1.5, max: 900 }))).toEqual([2, 3, 6]);
  });

  it('jitters between half and all of a delay', () => {
    expect(withJitter(100, () => 0)).toBe(50);
    expect(withJitter(100, () => 1)).toBe(100);
  });
});
