import { describe, expect, it } from 'vitest';
import { releaseBudget } from '../../../lib/runtime/release/release-budget.ts';

describe('releaseBudget', () => {
  it('is waves × (drain + install + healthy + bake)', () => {
    const budget = releaseBudget({ targets: 10, maxUnavailable: 1, timings: { drainMs: 10_000, healthyMs: 10_000, unhealthyMs: 15_000 }, installMs: 20_000, bakeMs: 0 });
    expect(budget).toEqual({ waves: 10, reports: 0, perTargetMs: 40_000, totalMs: 400_000, warnings: [] });
    expect(releaseBudget({ targets: 10, maxUnavailable: 3, timings: { drainMs: 10_000, healthyMs: 10_000, unhealthyMs: 15_000 }, installMs: 20_000, bakeMs: 5_000 }).totalMs).toBe(4 * 45_000);
  });

  it('by zone, counts each zone\'s waves on their own and adds one report wait per zone', () => {
    const timings = { drainMs: 10_000, healthyMs: 10_000, unhealthyMs: 15_000 };
    // 3 + 2 targets, 2 at a time: 2 waves in the first zone (2 + 1), 1 in the second; not ceil(5 / 2) = 3.
    const budget = releaseBudget({ targets: 5, maxUnavailable: 2, timings, installMs: 20_000, bakeMs: 180_000, zoneSizes: [3, 2], reportWaitMs: 60_000 });
    expect(budget).toMatchObject({ waves: 3, reports: 2, perTargetMs: 220_000, totalMs: 3 * 220_000 + 2 * 60_000 });
    expect(releaseBudget({ targets: 5, maxUnavailable: 2, timings, installMs: 20_000, bakeMs: 180_000, reportWaitMs: 60_000 })).toMatchObject({ waves: 3, reports: 1 });
  });

  it("warns about AWS's slow defaults", () => {
    const budget = releaseBudget({ targets: 4, maxUnavailable: 1, timings: { drainMs: 300_000, healthyMs: 150_000, unhealthyMs: 60_000 }, installMs: 30_000, bakeMs: 0 });
    expect(budget.totalMs).toBe(4 * 480_000);
    expect(budget.warnings).toEqual([
      "deregistration delay is 300 s (AWS's default is 300 s): every target waits that long; 10–30 s suits most web apps (setting deregistrationDelay)",
      'a target needs 150 s of health checks to turn healthy: use a 5 s interval and a healthy threshold of 2 (settings healthCheckInterval, healthyThreshold)',
      'the release takes at least 32 minutes: raise --max-unavailable if capacity allows',
    ]);
  });
});
