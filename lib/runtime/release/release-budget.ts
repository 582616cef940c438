import type { PoolTimings } from './ports.ts';

export interface BudgetInput {
  readonly targets: number;
  readonly maxUnavailable: number;
  readonly timings: PoolTimings;
  readonly installMs: number;
  readonly bakeMs: number;
}

export interface ReleaseBudget {
  /** Targets moved together: ceil(targets / maxUnavailable). */
  readonly waves: number;
  /** drain + install + healthy (threshold × interval) + bake. */
  readonly perTargetMs: number;
  readonly totalMs: number;
  /** Settings that make the release slow, and what to change. */
  readonly warnings: string[];
}

/** The time a release needs at best: waves × (drain + install + healthy + bake). */
export function releaseBudget(input: BudgetInput): ReleaseBudget {
  const waves = input.targets === 0 ? 0 : Math.ceil(input.targets / Math.max(1, input.maxUnavailable));
  const perTargetMs = input.timings.drainMs + input.installMs + input.timings.healthyMs + input.bakeMs;
  const warnings: string[] = [];
  const { drainMs, healthyMs } = input.timings;
  if (drainMs >= 300_000) {
    warnings.push(`deregistration delay is ${drainMs / 1000} s (AWS's default is 300 s): every target waits that long; 10–30 s suits most web apps (setting deregistrationDelay)`);
  }
  if (healthyMs >= 60_000) {
    warnings.push(`a target needs ${healthyMs / 1000} s of health checks to turn healthy: use a 5 s interval and a healthy threshold of 2 (settings healthCheckInterval, healthyThreshold)`);
  }
  if (waves > 1 && waves * perTargetMs >= 30 * 60_000) {
    warnings.push(`the release takes at least ${Math.round((waves * perTargetMs) / 60_000)} minutes: raise --max-unavailable if capacity allows`);
  }
  return { waves, perTargetMs, totalMs: waves * perTargetMs, warnings };
}
