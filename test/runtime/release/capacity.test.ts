import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mayTakeOut, resolveCapacity } from '../../../lib/runtime/release/capacity.ts';
import type { TargetStatus } from '../../../lib/runtime/release/ports.ts';

const fleet = (states: TargetStatus['state'][]): TargetStatus[] => states.map((state, index) => ({ id: `i-${index}`, state }));

describe('capacity rules', () => {
  it('resolves counts and percentages, never below one out or one healthy', () => {
    expect(resolveCapacity(10, 1)).toEqual({ maxUnavailable: 1, minHealthy: 9 });
    expect(resolveCapacity(10, '25%')).toEqual({ maxUnavailable: 2, minHealthy: 8 });
    expect(resolveCapacity(3, '10%')).toEqual({ maxUnavailable: 1, minHealthy: 2 });
    expect(resolveCapacity(1, 1)).toEqual({ maxUnavailable: 1, minHealthy: 1 });
    expect(resolveCapacity(4, 4)).toEqual({ maxUnavailable: 4, minHealthy: 1 });
    expect(resolveCapacity(4, 1, 2)).toEqual({ maxUnavailable: 1, minHealthy: 2 });
  });

  it('counts unhealthy targets as already unavailable', () => {
    const rules = resolveCapacity(4, 1);
    const targets = fleet(['healthy', 'unhealthy', 'healthy', 'healthy']);
    expect(mayTakeOut(targets[0], targets, rules)).toBe(false);
    expect(mayTakeOut(targets[1], targets, rules)).toBe(true);
  });

  it('never takes out the last healthy target', () => {
    const targets = fleet(['healthy', 'unhealthy']);
    expect(mayTakeOut(targets[0], targets, resolveCapacity(2, 2))).toBe(false);
  });

  it('never lets a decision go below the minimum or above max-unavailable (property)', () => {
    const state = fc.constantFrom<TargetStatus['state']>('healthy', 'healthy', 'healthy', 'unhealthy', 'initial', 'draining');
    fc.assert(fc.property(fc.array(state, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 12 }), fc.nat(12), (states, maxUnavailable, index) => {
      const targets = fleet(states);
      const rules = resolveCapacity(targets.length, maxUnavailable);
      const candidate = targets[index % targets.length];
      if (!mayTakeOut(candidate, targets, rules) || candidate.state !== 'healthy') return;
      const after = targets.map((target) => (target === candidate ? { ...target, state: 'draining' as const } : target));
      const healthy = after.filter((target) => target.state === 'healthy').length;
      expect(healthy).toBeGreaterThanOrEqual(rules.minHealthy);
      expect(healthy).toBeGreaterThanOrEqual(1);
      expect(after.length - healthy).toBeLessThanOrEqual(rules.maxUnavailable);
    }));
  });
});
