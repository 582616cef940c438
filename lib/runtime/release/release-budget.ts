import type { PoolTimings } from './ports.ts';

export interface BudgetInput {
  readonly targets: number;
  readonly maxUnavailable: number;
  readonly timings: PoolTimings;
  readonly installMs: number;
  readonly bakeMs: number;
  /** `--by-zone`: targets per zone, in release order; each zone is its own set of waves. @default - one set for the fleet */
  readonly zoneSizes?: readonly number[];
  /** Waiting for the report's metrics, once per zone (or once). @default 0 — no report */
  readonly reportWaitMs?: number;
}

export interface ReleaseBudget {
  /** Targets moved together: ceil(targets / maxUnavailable), summed over the zones with zoneSizes. */
  readonly waves: number;
  /** Reports waited for: one per zone, or one; 0 without reportWaitMs. */
  readonly reports: number;
  /** drain + install + healthy (threshold × interval) + bake. */
  readonly perTargetMs: number;
  readonly totalMs: number;
  /** Settings that make the release slow, and what to change. */
  readonly warnings: string[];
}

/** The time a release needs at best: waves × (drain + install + healthy + bake) + reports × report wait. */
export function releaseBudget(input: BudgetInput): ReleaseBudget {
  const perBatch = (targets: number) => (targets === 0 ? 0 : Math.ceil(targets / Math.max(1, input.maxUnavailable)));
  // A zone's last wave need not be full, and the next zone does not start until it is done.
  const waves = input.zoneSizes ? input.zoneSizes.reduce((sum, size) => sum + perBatch(size), 0) : perBatch(input.targets);
  const reports = input.reportWaitMs && input.targets > 0 ? (input.zoneSizes?.length ?? 1) : 0;
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
  return { waves, reports, perTargetMs, totalMs: waves * perTargetMs + reports * (input.reportWaitMs ?? 0), warnings };
}
